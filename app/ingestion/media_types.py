"""Which files Citestream reads, by name: the supported types (app/core/media_types.py) and the
415 for the others."""

from __future__ import annotations

from pathlib import PurePath

from app.core.errors import UnsupportedMediaType
from app.core.media_types import MEDIA_TYPES

SUPPORTED_SUFFIXES = frozenset(MEDIA_TYPES)


def media_type_of(name: str) -> str:
    """The media type Citestream reads a file name as; unsupported types are a 415."""
    suffix = PurePath(name).suffix.lower()
    media_type = MEDIA_TYPES.get(suffix)
    if media_type is None:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise UnsupportedMediaType(
            f"{name}: files of type {suffix or '(no extension)'} cannot be ingested; "
            f"supported: {supported}."
        )
    return media_type

"""Which files Citestream reads, by name: the supported types and their media types."""

from __future__ import annotations

from pathlib import PurePath

from app.core.errors import UnsupportedMediaType

MARKDOWN = "text/markdown"
PLAIN_TEXT = "text/plain"
HTML = "text/html"
PDF = "application/pdf"

MEDIA_TYPES = {
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".txt": PLAIN_TEXT,
    ".html": HTML,
    ".htm": HTML,
    ".pdf": PDF,
}
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

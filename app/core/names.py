"""Names in the knowledge base: collections and documents."""

from __future__ import annotations

import re
import unicodedata

from app.core.errors import InvalidInput

DEFAULT_COLLECTION = "default"
# Names appear in URLs, form fields and vector payloads: keep them plain.
COLLECTION_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_COLLECTION_NAME = re.compile(COLLECTION_NAME_PATTERN)
MAX_DOCUMENT_NAME = 512


def check_collection_name(name: str) -> None:
    """Refuse a collection name that is not plain (422)."""
    if not _COLLECTION_NAME.fullmatch(name):
        raise InvalidInput(
            f"{name!r} is not a valid collection name: use 1-64 letters, digits, '-', '_' "
            "or '.', starting with a letter or digit.",
            field_name="collection",
        )


def document_name(raw: str) -> str:
    """A file name as the registry keeps it: a relative path with '/' and no '..'."""
    # Control characters are dropped: no file name means them, and PostgreSQL refuses NUL.
    printable = "".join(c for c in raw if unicodedata.category(c) != "Cc")
    parts = [
        part for part in printable.replace("\\", "/").split("/") if part not in ("", ".", "..")
    ]
    name = "/".join(parts)[-MAX_DOCUMENT_NAME:]
    if not name:
        raise InvalidInput("A file has no name.", field_name="files")
    return name

"""What a reader makes of a file: its sections, the parsed document, and the error for a file
whose content cannot be read."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.errors import InvalidInput
from app.core.media_types import HTML, MARKDOWN, PDF, PLAIN_TEXT

__all__ = [
    "HEADING_SEPARATOR",
    "HTML",
    "MARKDOWN",
    "MAX_CHARS_SETTING",
    "PDF",
    "PLAIN_TEXT",
    "ParsedDocument",
    "Section",
    "UnreadableDocument",
]

HEADING_SEPARATOR = " > "
# The setting that bounds a document's text, named in the refusal.
MAX_CHARS_SETTING = "CITESTREAM_INGESTION__MAX_DOCUMENT_CHARS"


@dataclass(frozen=True)
class Section:
    """A run of text under one heading, or one PDF page."""

    text: str
    page: int | None = None
    heading: str | None = None


@dataclass(frozen=True)
class ParsedDocument:
    """What a file says, before it is chunked."""

    title: str
    media_type: str
    sections: list[Section]
    page_count: int | None = None


class UnreadableDocument(InvalidInput):
    """The file has a supported type but its content cannot be read (422)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}", field_name="files")
        self.reason = reason

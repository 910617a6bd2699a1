"""Read an uploaded or local file into plain-text sections that remember where they came from.

Markdown and HTML become sections under their heading path; a PDF becomes one section per page
(from its text layer). Nothing here touches the database: a file that cannot be read fails
before anything is stored. Each format has its module; this one picks the reader by file name.
"""

from __future__ import annotations

from app.core.media_types import HTML, MARKDOWN, MEDIA_TYPES, PDF, PLAIN_TEXT
from app.ingestion.media_types import SUPPORTED_SUFFIXES, media_type_of
from app.ingestion.readers.html import read_html
from app.ingestion.readers.markdown import read_markdown
from app.ingestion.readers.parsed import (
    HEADING_SEPARATOR,
    MAX_CHARS_SETTING,
    ParsedDocument,
    Section,
    UnreadableDocument,
)
from app.ingestion.readers.pdf import read_pdf
from app.ingestion.readers.text import decode, read_text

__all__ = [
    "HEADING_SEPARATOR",
    "HTML",
    "MARKDOWN",
    "MAX_CHARS_SETTING",
    "MEDIA_TYPES",
    "PDF",
    "PLAIN_TEXT",
    "SUPPORTED_SUFFIXES",
    "ParsedDocument",
    "Section",
    "UnreadableDocument",
    "media_type_of",
    "parse",
]


def parse(name: str, data: bytes, max_chars: int | None = None) -> ParsedDocument:
    """Read `data` as the type its file name says; a PDF whose text passes `max_chars` is
    refused as soon as it does. Blocking and CPU-bound: call off the loop."""
    media_type = media_type_of(name)
    if not data.strip():
        raise UnreadableDocument(name, "the file is empty")
    if media_type == PDF:
        parsed = read_pdf(name, data, max_chars)
    else:
        text = decode(name, data)
        if media_type == HTML:
            parsed = read_html(name, text)
        elif media_type == MARKDOWN:
            parsed = read_markdown(name, text)
        else:
            parsed = read_text(name, text)
    if not any(section.text.strip() for section in parsed.sections):
        raise UnreadableDocument(name, "the file has no text to index")
    return parsed

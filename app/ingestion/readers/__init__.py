"""Read an uploaded or local file into plain-text sections that remember where they came from.

Markdown and HTML become sections under their heading path; a PDF becomes one section per page
(from its text layer). Nothing here touches the database: a file that cannot be read fails
before anything is stored. Each format has its module; this one picks the reader by file name.
"""

from __future__ import annotations

from pathlib import PurePath

from app.core.errors import UnsupportedMediaType
from app.ingestion.readers.html import read_html
from app.ingestion.readers.markdown import read_markdown
from app.ingestion.readers.parsed import (
    HEADING_SEPARATOR,
    HTML,
    MARKDOWN,
    PDF,
    PLAIN_TEXT,
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


def parse(name: str, data: bytes) -> ParsedDocument:
    """Read `data` as the type its file name says. Blocking and CPU-bound: call off the loop."""
    media_type = media_type_of(name)
    if not data.strip():
        raise UnreadableDocument(name, "the file is empty")
    if media_type == PDF:
        parsed = read_pdf(name, data)
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

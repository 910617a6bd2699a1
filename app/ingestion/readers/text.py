"""Plain text, and what every reader of text shares: decoding, NUL removal, a fallback title."""

from __future__ import annotations

from pathlib import PurePath

from app.ingestion.readers.parsed import PLAIN_TEXT, ParsedDocument, Section, UnreadableDocument


def read_text(name: str, text: str) -> ParsedDocument:
    """A plain-text file: one section, titled by the file stem."""
    return ParsedDocument(stem_title(name), PLAIN_TEXT, [Section(text.strip())])


def decode(name: str, data: bytes) -> str:
    """UTF-8 text (a byte-order mark is dropped); anything else is unreadable."""
    try:
        return printable(data.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise UnreadableDocument(name, f"the file is not UTF-8 text ({error.reason})") from None


def printable(text: str) -> str:
    """The text without NUL characters."""
    # NUL is never meant as text, and PostgreSQL refuses to store it.
    return text.replace("\x00", "")


def stem_title(name: str) -> str:
    """A title from the file name: 'user-guide_v2.md' is 'user guide v2'."""
    return PurePath(name).stem.replace("-", " ").replace("_", " ").strip() or name

"""PDF: one section per page of its text layer, with lines wrapped at the margin rejoined."""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader

from app.core.errors import DocumentTooLarge
from app.ingestion.readers.parsed import (
    MAX_CHARS_SETTING,
    PDF,
    ParsedDocument,
    Section,
    UnreadableDocument,
)
from app.ingestion.readers.text import printable, stem_title

logger = logging.getLogger(__name__)


def read_pdf(name: str, data: bytes, max_chars: int | None = None) -> ParsedDocument:
    """Pages numbered from 1 (blank ones skipped); the title is the metadata's, else the first
    line. A damaged, encrypted or text-less PDF is unreadable; one whose text passes
    `max_chars` is refused at the page that passes it."""
    if not data.lstrip().startswith(b"%PDF-"):
        raise UnreadableDocument(name, "the file is not a PDF (no %PDF- header)")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocument(name, "the PDF is encrypted with a password")
        pages: list[str] = []
        chars = 0
        for page in reader.pages:
            pages.append(printable(page.extract_text() or ""))
            chars += len(pages[-1])
            if max_chars is not None and chars > max_chars:
                # A few kilobytes of compressed PDF can draw gigabytes of text.
                raise DocumentTooLarge(
                    name, f"its text passes {max_chars} characters", MAX_CHARS_SETTING
                )
        metadata_title = (reader.metadata.title if reader.metadata else None) or ""
    except (UnreadableDocument, DocumentTooLarge):
        raise
    except Exception as error:
        # pypdf raises many types for damaged files; each means the same thing to the user.
        logger.info("Could not read %s as a PDF: %r", name, error)
        raise UnreadableDocument(name, "the PDF is damaged and cannot be read") from None
    if not pages:
        raise UnreadableDocument(name, "the PDF has no pages")
    sections = [
        Section(_reflow(text), page=number)
        for number, text in enumerate(pages, start=1)
        if text.strip()
    ]
    if not sections:
        raise UnreadableDocument(name, "the PDF has no text layer (a scan?); run OCR on it first")
    first_line = sections[0].text.strip().splitlines()[0].strip()
    title = printable(str(metadata_title)).strip() or first_line[:200] or stem_title(name)
    return ParsedDocument(title, PDF, sections, page_count=len(pages))


def _reflow(text: str) -> str:
    """Join the lines a PDF wrapped at its margin back into paragraphs."""
    lines = [line.strip() for line in text.splitlines()]
    width = max((len(line) for line in lines), default=0)
    paragraphs: list[str] = []
    current = ""
    for line in lines:
        if not line:
            if current:
                paragraphs.append(current)
            current = ""
            continue
        current = f"{current} {line}" if current else line
        # A line that stops well short of the margin ends its paragraph (or is a heading).
        if len(line) < 0.7 * width:
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return "\n\n".join(paragraphs)

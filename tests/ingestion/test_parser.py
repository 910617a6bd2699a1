"""Reading a file's bytes into what the knowledge base stores: hash, title, type and chunks."""

from __future__ import annotations

import hashlib

import pytest

from app.core.errors import UnsupportedMediaType
from app.core.settings import IngestionSettings
from app.ingestion.parser import DocumentParser
from app.ingestion.readers import MARKDOWN, PDF, UnreadableDocument
from tests.support.pdfs import pdf_bytes

PARSER = DocumentParser(IngestionSettings())


def test_a_file_is_hashed_read_and_chunked() -> None:
    data = b"# Guide\n\nOtters hold hands.\n\n## Setup\n\nInstall it first.\n"

    parsed = PARSER.parse("docs/guide.md", data)

    assert parsed.name == "docs/guide.md"
    assert (parsed.content_hash, parsed.size_bytes) == (hashlib.sha256(data).hexdigest(), len(data))
    assert (parsed.title, parsed.media_type, parsed.page_count) == ("Guide", MARKDOWN, None)
    assert [(c.seq, c.text, c.heading) for c in parsed.chunks] == [
        (0, "Otters hold hands.", "Guide"),
        (1, "Install it first.", "Guide > Setup"),
    ]


def test_a_pdf_keeps_its_pages() -> None:
    parsed = PARSER.parse("report.pdf", pdf_bytes(["Page one.", "Page two."], title="Report"))

    assert (parsed.title, parsed.media_type, parsed.page_count) == ("Report", PDF, 2)
    assert [(c.page, c.text) for c in parsed.chunks] == [(1, "Page one."), (2, "Page two.")]


def test_types_are_checked_by_name_and_content_that_cannot_be_read_is_a_422() -> None:
    assert PARSER.media_type_of("Notes.MD") == MARKDOWN
    with pytest.raises(UnsupportedMediaType):
        PARSER.media_type_of("slides.pptx")
    with pytest.raises(UnreadableDocument, match="empty"):
        PARSER.parse("empty.md", b"  \n")

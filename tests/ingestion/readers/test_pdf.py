"""Reading PDFs page by page, and refusing those that cannot be read with a reason the user
can act on."""

from __future__ import annotations

import io
import random

from pypdf import PdfReader, PdfWriter

from app.ingestion.readers import PDF, parse
from tests.support.pdfs import drawing_only_pdf, pdf_bytes
from tests.support.readers import unreadable


def test_pdf_has_one_section_per_page_numbered_from_one() -> None:
    data = pdf_bytes(["First page words.", "Second page words.", "Third page words."])

    document = parse("report.pdf", data)

    assert document.media_type == PDF
    assert [(s.page, s.text, s.heading) for s in document.sections] == [
        (1, "First page words.", None),
        (2, "Second page words.", None),
        (3, "Third page words.", None),
    ]
    assert document.page_count == 3


def test_pdf_title_comes_from_its_metadata() -> None:
    data = pdf_bytes(["Cover line\n\nBody."], title="Annual Report 2024")

    assert parse("report.pdf", data).title == "Annual Report 2024"


def test_pdf_without_a_metadata_title_is_titled_by_its_first_line() -> None:
    data = pdf_bytes(["Cover line\n\nBody of the report."])

    assert parse("report.pdf", data).title == "Cover line"


def test_pdf_lines_wrapped_at_the_margin_are_joined_into_one_paragraph() -> None:
    sentence = (
        "The quick brown fox jumps over the lazy dog near the riverbank while the farmer "
        "watches from the hill and counts his sheep one by one."
    )
    data = pdf_bytes([f"Heading\n\n{sentence} A short second sentence."])
    raw = PdfReader(io.BytesIO(data)).pages[0].extract_text()
    assert sentence not in raw, "the sentence should be long enough for fpdf2 to wrap it"

    text = parse("wrapped.pdf", data).sections[0].text

    assert text == f"Heading\n\n{sentence} A short second sentence."


def test_pdf_blank_page_is_skipped_but_later_pages_keep_their_numbers() -> None:
    data = pdf_bytes(["Page one.", "", "Page three."])

    document = parse("gap.pdf", data)

    assert [(s.page, s.text) for s in document.sections] == [(1, "Page one."), (3, "Page three.")]
    assert document.page_count == 3


def test_pdf_named_file_that_is_not_a_pdf_isunreadable() -> None:
    data = random.Random(7).randbytes(4096)

    error = unreadable("fake.pdf", data)

    assert "not a PDF" in error.reason


def test_truncated_pdf_is_unreadable_as_damaged() -> None:
    data = pdf_bytes(["Some words on the page.", "More words on another page."])

    error = unreadable("cut.pdf", data[: len(data) // 2])

    assert "damaged" in error.reason


def test_pdf_without_any_text_is_unreadable_and_suggests_ocr() -> None:
    error = unreadable("scan.pdf", drawing_only_pdf())

    assert "no text" in error.reason
    assert "OCR" in error.reason


def test_pdf_encrypted_with_a_user_password_isunreadable() -> None:
    data = pdf_bytes(["Secret words."], user_password="open-sesame")

    error = unreadable("locked.pdf", data)

    assert "encrypted" in error.reason
    assert "password" in error.reason


def test_a_pdf_title_with_nul_characters_is_kept_without_them() -> None:
    # UTF-16 without a byte-order mark reads as "T\x00i\x00...": PostgreSQL refuses the NULs.
    writer = PdfWriter(clone_from=io.BytesIO(pdf_bytes(["Lighthouse keeping."])))
    writer.add_metadata({"/Title": "Light\x00house\x00 Guide"})
    buffer = io.BytesIO()
    writer.write(buffer)

    assert parse("guide.pdf", buffer.getvalue()).title == "Lighthouse Guide"

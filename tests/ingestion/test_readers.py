"""Reading Markdown, plain text, HTML and PDF files into sections that remember where they came
from, and refusing files that cannot be read with a reason the user can act on."""

from __future__ import annotations

import io
import random

import pytest
from pypdf import PdfReader, PdfWriter

from app.core.errors import InvalidInput, UnsupportedMediaType
from app.ingestion.readers import (
    HTML,
    MARKDOWN,
    PDF,
    PLAIN_TEXT,
    ParsedDocument,
    UnreadableDocument,
    parse,
)
from tests.support.pdfs import drawing_only_pdf, pdf_bytes


def _headings(document: ParsedDocument) -> list[str | None]:
    return [section.heading for section in document.sections]


def _all_text(document: ParsedDocument) -> str:
    return "\n".join(f"{section.heading}\n{section.text}" for section in document.sections)


# -- Markdown ----------------------------------------------------------------------------------

GUIDE = """\
# Guide

How to use the product.

## Setup

Install it first.

### Linux

Use the package manager.

## Usage

Ask a question.
"""


def test_markdown_title_is_the_first_level_one_heading() -> None:
    document = parse("guide.md", b"## Overview\n\nSome words.\n\n# The Real Title\n\nMore words.\n")

    assert document.title == "The Real Title"
    assert document.media_type == MARKDOWN


def test_markdown_title_falls_back_to_the_file_stem_with_separators_as_spaces() -> None:
    document = parse("user-guide_v2.md", b"Just some notes without any heading.\n")

    assert document.title == "user guide v2"


def test_markdown_sections_carry_the_full_heading_path() -> None:
    document = parse("guide.md", GUIDE.encode())

    assert [(section.heading, section.text) for section in document.sections] == [
        ("Guide", "How to use the product."),
        ("Guide > Setup", "Install it first."),
        ("Guide > Setup > Linux", "Use the package manager."),
        # Back up one level: the path drops "Setup > Linux", not just "Linux".
        ("Guide > Usage", "Ask a question."),
    ]


@pytest.mark.parametrize("fence", ["```", "~~~"])
def test_markdown_hash_inside_a_fenced_code_block_is_not_a_heading(fence: str) -> None:
    text = (
        "# Guide\n\n"
        "## Shell\n\n"
        "Run this:\n\n"
        f"{fence}bash\n"
        "# install the tool\n"
        "pip install tool\n"
        f"{fence}\n\n"
        "Then carry on.\n"
    )

    document = parse("shell.md", text.encode())

    assert _headings(document) == ["Guide > Shell"]
    assert "# install the tool" in document.sections[0].text
    assert "Then carry on." in document.sections[0].text


def test_markdown_heading_ending_in_a_hash_keeps_it() -> None:
    # CommonMark: a closing run of '#' only counts when a space precedes it, so "C#" is the
    # heading's text, and its child sections sit under "C#" too.
    document = parse("csharp.md", b"# C#\n\nA language.\n\n## Generics\n\nType parameters.\n")

    assert document.title == "C#"
    assert _headings(document) == ["C#", "C# > Generics"]


def test_markdown_text_before_the_first_heading_has_no_heading() -> None:
    document = parse("notes.md", b"A preamble line.\n\n# Title\n\nBody text.\n")

    assert document.sections[0].heading is None
    assert document.sections[0].text == "A preamble line."
    assert document.sections[1].heading == "Title"


def test_markdown_with_a_byte_order_mark_reads_its_first_heading() -> None:
    document = parse("bom.md", "\ufeff# Title\n\nBody text.\n".encode())

    assert document.title == "Title"
    assert [(s.heading, s.text) for s in document.sections] == [("Title", "Body text.")]
    assert "\ufeff" not in _all_text(document)


# -- Plain text --------------------------------------------------------------------------------


def test_plain_text_is_one_section_titled_by_the_file_stem() -> None:
    document = parse("release_notes.txt", b"\n  Version 2 adds search.\n\n")

    assert document.title == "release notes"
    assert document.media_type == PLAIN_TEXT
    assert [(s.text, s.heading, s.page) for s in document.sections] == [
        ("Version 2 adds search.", None, None)
    ]


# -- HTML --------------------------------------------------------------------------------------


def test_html_title_comes_from_the_title_element() -> None:
    html = b"<html><head><title>Page Title</title></head><body><h1>Heading</h1><p>x</p></body>"

    document = parse("page.html", html)

    assert document.title == "Page Title"
    assert document.media_type == HTML


def test_html_without_a_title_element_is_titled_by_its_first_h1() -> None:
    html = b"<body><p>Lead.</p><h2>Aside</h2><p>y</p><h1>Main Heading</h1><p>z</p></body>"

    assert parse("page.htm", html).title == "Main Heading"


def test_html_invisible_elements_never_reach_any_section() -> None:
    html = b"""<html><head><title>T</title><style>.styletoken { color: red }</style>
    <script>var scripttoken = 1;</script></head>
    <body>
      <nav><a href="/">navtoken home</a></nav>
      <noscript>noscripttoken enable JavaScript</noscript>
      <template><p>templatetoken</p></template>
      <h1>Visible</h1>
      <p>Visible words.</p>
      <script>console.log("bodyscripttoken")</script>
    </body></html>"""

    document = parse("page.html", html)

    text = _all_text(document)
    assert "Visible words." in text
    for token in ("styletoken", "scripttoken", "navtoken", "noscripttoken", "templatetoken"):
        assert token not in text


def test_html_headings_h1_to_h3_give_the_heading_path() -> None:
    html = b"""<body>
      <h1>Guide</h1><p>Intro.</p>
      <h2>Setup</h2><p>Install.</p>
      <h3>Linux</h3><p>Use apt.</p>
      <h2>Usage</h2><p>Ask.</p>
    </body>"""

    document = parse("guide.html", html)

    assert [(s.heading, s.text) for s in document.sections] == [
        ("Guide", "Intro."),
        ("Guide > Setup", "Install."),
        ("Guide > Setup > Linux", "Use apt."),
        ("Guide > Usage", "Ask."),
    ]


def test_html_inline_elements_do_not_break_a_sentence() -> None:
    html = b'<body><p>Read the <a href="/install">install guide</a> <b>before</b> you start.</p>'

    document = parse("page.html", html)

    assert document.sections[0].text == "Read the install guide before you start."


def test_html_source_line_breaks_inside_a_paragraph_do_not_break_a_sentence() -> None:
    # Browsers render whitespace in a paragraph, newlines included, as one space; pretty-printed
    # HTML wraps long paragraphs, often inside inline elements.
    html = b"""<body>
      <p>Read the <a href="/install">
        install guide</a> before <b>you
        start</b>.</p>
    </body>"""

    document = parse("page.html", html)

    assert document.sections[0].text == "Read the install guide before you start."


def test_html_table_cells_keep_their_text_apart() -> None:
    html = b"""<body><table>
      <tr><th>Setting</th><th>Default</th></tr>
      <tr><td>chunk_size</td><td>256</td></tr>
    </table></body>"""

    text = parse("table.html", html).sections[0].text

    assert "Setting | Default" in text
    assert "chunk_size | 256" in text


def test_html_paragraph_starting_with_a_hash_is_not_a_heading() -> None:
    html = b"<body><h1>Tags</h1><p># release notes</p><p>More text.</p></body>"

    document = parse("tags.html", html)

    assert _headings(document) == ["Tags"]
    assert "# release notes" in document.sections[0].text
    assert "More text." in document.sections[0].text


# -- PDF ---------------------------------------------------------------------------------------


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


# -- Files that cannot be read -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "named_type"), [("report.docx", ".docx"), ("README", "(no extension)")]
)
def test_unsupported_type_is_refused_with_415_naming_file_and_type(
    name: str, named_type: str
) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        parse(name, b"some content")

    assert caught.value.status == 415
    assert name in str(caught.value)
    assert named_type in str(caught.value)


def _unreadable(name: str, data: bytes) -> UnreadableDocument:
    with pytest.raises(UnreadableDocument) as caught:
        parse(name, data)
    error = caught.value
    assert isinstance(error, InvalidInput)
    assert error.status == 422
    assert str(error).startswith(f"{name}: ")
    return error


@pytest.mark.parametrize("data", [b"", b" \n\t\r\n  "], ids=["empty", "whitespace-only"])
def test_empty_file_is_unreadable(data: bytes) -> None:
    error = _unreadable("empty.md", data)

    assert "empty" in error.reason


def test_text_that_is_not_utf8_is_unreadable() -> None:
    error = _unreadable("latin.txt", "Café crème".encode("latin-1"))

    assert "not UTF-8" in error.reason


def test_pdf_named_file_that_is_not_a_pdf_is_unreadable() -> None:
    data = random.Random(7).randbytes(4096)

    error = _unreadable("fake.pdf", data)

    assert "not a PDF" in error.reason


def test_truncated_pdf_is_unreadable_as_damaged() -> None:
    data = pdf_bytes(["Some words on the page.", "More words on another page."])

    error = _unreadable("cut.pdf", data[: len(data) // 2])

    assert "damaged" in error.reason


def test_pdf_without_any_text_is_unreadable_and_suggests_ocr() -> None:
    error = _unreadable("scan.pdf", drawing_only_pdf())

    assert "no text" in error.reason
    assert "OCR" in error.reason


def test_pdf_encrypted_with_a_user_password_is_unreadable() -> None:
    data = pdf_bytes(["Secret words."], user_password="open-sesame")

    error = _unreadable("locked.pdf", data)

    assert "encrypted" in error.reason
    assert "password" in error.reason


def test_nul_characters_are_dropped_from_text() -> None:
    parsed = parse("notes.txt", b"Tabs\x00 and\x00 nulls.")
    assert parsed.sections[0].text == "Tabs and nulls."


def test_a_pdf_title_with_nul_characters_is_kept_without_them() -> None:
    # UTF-16 without a byte-order mark reads as "T\x00i\x00...": PostgreSQL refuses the NULs.
    writer = PdfWriter(clone_from=io.BytesIO(pdf_bytes(["Lighthouse keeping."])))
    writer.add_metadata({"/Title": "Light\x00house\x00 Guide"})
    buffer = io.BytesIO()
    writer.write(buffer)

    assert parse("guide.pdf", buffer.getvalue()).title == "Lighthouse Guide"


def test_html_private_use_characters_do_not_break_the_heading_markers() -> None:
    # Icon fonts (Material Icons' "error" is U+E000) put private-use characters in real pages.
    html = (
        "<html><body><h1>&#xe000; Alerts</h1><p>&#xe000;</p><p>&#xe000;3 lamps are lit.</p>"
        "<h2>Next</h2><p>Trim the wick.</p></body></html>"
    )

    parsed = parse("alerts.html", html.encode())

    assert _headings(parsed) == ["Alerts", "Alerts > Next"]
    assert "3 lamps are lit." in _all_text(parsed)
    assert "\ue000" not in _all_text(parsed)

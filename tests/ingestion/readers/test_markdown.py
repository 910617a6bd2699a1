"""Reading Markdown into sections under their full heading path."""

from __future__ import annotations

import pytest

from app.ingestion.readers import MARKDOWN, parse
from tests.support.readers import all_text, headings

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

    assert headings(document) == ["Guide > Shell"]
    assert "# install the tool" in document.sections[0].text
    assert "Then carry on." in document.sections[0].text


def test_markdown_heading_ending_in_a_hash_keeps_it() -> None:
    # CommonMark: a closing run of '#' only counts when a space precedes it, so "C#" is the
    # heading's text, and its child sections sit under "C#" too.
    document = parse("csharp.md", b"# C#\n\nA language.\n\n## Generics\n\nType parameters.\n")

    assert document.title == "C#"
    assert headings(document) == ["C#", "C# > Generics"]


def test_markdown_text_before_the_first_heading_has_no_heading() -> None:
    document = parse("notes.md", b"A preamble line.\n\n# Title\n\nBody text.\n")

    assert document.sections[0].heading is None
    assert document.sections[0].text == "A preamble line."
    assert document.sections[1].heading == "Title"


def test_markdown_with_a_byte_order_mark_reads_its_first_heading() -> None:
    document = parse("bom.md", "\ufeff# Title\n\nBody text.\n".encode())

    assert document.title == "Title"
    assert [(s.heading, s.text) for s in document.sections] == [("Title", "Body text.")]
    assert "\ufeff" not in all_text(document)

"""Reading plain text: one section, decoded as UTF-8, without NUL characters."""

from __future__ import annotations

from app.ingestion.readers import PLAIN_TEXT, parse
from tests.support.readers import unreadable


def test_plain_text_is_one_section_titled_by_the_file_stem() -> None:
    document = parse("release_notes.txt", b"\n  Version 2 adds search.\n\n")

    assert document.title == "release notes"
    assert document.media_type == PLAIN_TEXT
    assert [(s.text, s.heading, s.page) for s in document.sections] == [
        ("Version 2 adds search.", None, None)
    ]


def test_text_that_is_not_utf8_isunreadable() -> None:
    error = unreadable("latin.txt", "Café crème".encode("latin-1"))

    assert "not UTF-8" in error.reason


def test_nul_characters_are_dropped_from_text() -> None:
    parsed = parse("notes.txt", b"Tabs\x00 and\x00 nulls.")
    assert parsed.sections[0].text == "Tabs and nulls."

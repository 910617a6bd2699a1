"""Checking what a reader made of a file, or why it refused it."""

from __future__ import annotations

import pytest

from app.core.errors import InvalidInput
from app.ingestion.readers import ParsedDocument, UnreadableDocument, parse


def headings(document: ParsedDocument) -> list[str | None]:
    """The heading path of each section, in order."""
    return [section.heading for section in document.sections]


def all_text(document: ParsedDocument) -> str:
    """Every section's heading and text, one after another."""
    return "\n".join(f"{section.heading}\n{section.text}" for section in document.sections)


def unreadable(name: str, data: bytes) -> UnreadableDocument:
    """The 422 that reading `data` as `name` raises, checked to name the file first."""
    with pytest.raises(UnreadableDocument) as caught:
        parse(name, data)
    error = caught.value
    assert isinstance(error, InvalidInput)
    assert error.status == 422
    assert str(error).startswith(f"{name}: ")
    return error

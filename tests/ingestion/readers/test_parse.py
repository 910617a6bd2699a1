"""Choosing a reader by file name, and refusing files of other types or with no content."""

from __future__ import annotations

import pytest

from app.core.errors import UnsupportedMediaType
from app.ingestion.readers import parse
from tests.support.readers import unreadable


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


@pytest.mark.parametrize("data", [b"", b" \n\t\r\n  "], ids=["empty", "whitespace-only"])
def test_empty_file_isunreadable(data: bytes) -> None:
    error = unreadable("empty.md", data)

    assert "empty" in error.reason

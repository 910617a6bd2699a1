"""File names as the registry keeps them."""

from __future__ import annotations

import pytest

from app.core.errors import InvalidInput
from app.core.names import document_name


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("guide.md", "guide.md"),
        ("handbook\\travel\\meals.md", "handbook/travel/meals.md"),
        ("../../etc/passwd.txt", "etc/passwd.txt"),
        ("./a//b/./c.md", "a/b/c.md"),
        # Control characters: PostgreSQL refuses NUL, and no name means a tab or a newline.
        ("gu\x00ide\n.md", "guide.md"),
        ("caf\u00e9 menu\u00a0v2.md", "caf\u00e9 menu\u00a0v2.md"),
    ],
)
def test_a_file_name_becomes_a_plain_relative_path(raw: str, kept: str) -> None:
    assert document_name(raw) == kept


@pytest.mark.parametrize("raw", ["", "..", "/./", "\x00\x01"])
def test_a_file_without_a_name_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput, match="no name"):
        document_name(raw)

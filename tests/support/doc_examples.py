"""The code examples of the Markdown docs, read at test time so that what is tested is what a
reader copies."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The server the examples name; the tests put a live server's URL in its place.
DOCUMENTED_URL = "http://127.0.0.1:8000"
_FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def example(document: str, language: str, containing: str) -> str:
    """The one `language` block of `document` (relative to the repository) with `containing`."""
    text = (ROOT / document).read_text(encoding="utf-8")
    blocks = [m.group(2) for m in _FENCE.finditer(text) if m.group(1) == language]
    found = [code for code in blocks if containing in code]
    if len(found) != 1:
        raise AssertionError(
            f"{document}: expected one {language} example with {containing!r}, found {len(found)}"
        )
    return found[0]

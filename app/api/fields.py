"""Input types the API shares: text a database can store, and paging bounds.

Both checks happen at the schema boundary, so SQLite and PostgreSQL answer the same 422 and
nothing reaches the database that it would refuse (PostgreSQL rejects U+0000 in text; neither
driver can encode a lone surrogate, which JSON's `\\ud800` escapes can produce).
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

# NUL, and the UTF-16 surrogates that are not characters on their own.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# The same rule for /openapi.json (a pattern is unanchored: it must match the whole text).
STORABLE_PATTERN = "^[^\\x00]*$"
# One character that is not whitespace, anywhere: the rule of "not blank".
NOT_BLANK_PATTERN = "^[^\\x00]*\\S[^\\x00]*$"
# Paging stops well inside 32-bit integers: every database and driver takes such an OFFSET.
MAX_OFFSET = 2**31 - 1


def unstorable_character(text: str) -> str | None:
    """The first character of `text` that cannot be stored, as `U+XXXX`; None if there is none.
    For text that arrives inside a model whose fields are not ours (AG-UI's)."""
    found = _UNSTORABLE.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def _storable(text: str) -> str:
    character = unstorable_character(text)
    if character is not None:
        raise PydanticCustomError(
            "unstorable_character",
            "The text contains {character}, which cannot be stored; remove it.",
            {"character": character},
        )
    return text


# Text that goes to the database: refused with 422 `unstorable_character` otherwise.
StorableStr = Annotated[
    str,
    AfterValidator(_storable),
    Field(json_schema_extra={"pattern": STORABLE_PATTERN}),
]
# Text that must also have something besides whitespace (its own check says "empty").
NonBlankStr = Annotated[
    str,
    AfterValidator(_storable),
    Field(json_schema_extra={"pattern": NOT_BLANK_PATTERN}),
]

Offset = Annotated[
    int, Query(ge=0, le=MAX_OFFSET, description="How many items to skip (at most 2147483647).")
]


def page_size(most: int) -> object:
    """The `limit` query parameter of a list that returns at most `most` items at once."""
    return Query(ge=1, le=most, description=f"Page size, 1 to {most}.")

"""A citation: a numbered passage an answer was written from, and whether the answer cites it.

Produced by the answering workflow, stored with the answer, and sent to clients (the API owns
the wire shape, `Source`, and maps each citation onto it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SNIPPET_CHARS = 300


@dataclass(frozen=True)
class Citation:
    """The passage `[index]` in an answer refers to."""

    index: int
    node_id: str
    document: str
    document_id: str | None
    title: str | None
    page: int | None
    heading: str | None
    text: str
    score: float | None
    metadata: dict[str, Any] = field(default_factory=dict)
    cited: bool = False

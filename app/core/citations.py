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

    def as_dict(self) -> dict[str, Any]:
        """The fields, as `dataclasses.asdict` gives them, for JSON and the stored answer.

        Not `asdict` itself: it copies every value recursively, and the answer's citations are
        converted twice per answer (the stored turn, the run's event), before it is over.
        """
        fields = dict(vars(self))
        fields["metadata"] = dict(self.metadata)
        return fields

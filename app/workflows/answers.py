"""What the answering workflow takes and gives, as plain values, and the shape of an answer in
progress. Light on purpose: services import this without loading LlamaIndex."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from app.core.citations import Citation
from app.memory.messages import HistoryMessage


@dataclass(frozen=True)
class AnswerRequest:
    """A question, the conversation it follows, and the collection to search."""

    question: str
    history: list[HistoryMessage]
    collection: str


@dataclass(frozen=True)
class AnswerResult:
    """A finished answer and the numbered passages it was written from."""

    text: str
    citations: list[Citation]


class AnswerInProgress(Protocol):
    """One answer being written."""

    def deltas(self) -> AsyncIterator[str]:
        """The answer's text as the model writes it. Pieces written while the reader was busy
        arrive joined, so a slow reader costs one wake-up per read, not one per token; the
        first piece is handed over as soon as it exists. Ends when the answer ends."""
        ...

    async def result(self) -> AnswerResult:
        """The whole answer, once it has ended; raises the domain error if it failed."""
        ...

    def is_done(self) -> bool:
        """Whether the answer has ended, one way or another."""
        ...

    @property
    def tokens(self) -> int:
        """How many pieces the model has written so far (tokens, for the models Citestream
        runs), however they were joined for the reader."""
        ...

    async def stop(self) -> None:
        """Stop the answer now, in whatever phase it is (the model stops generating)."""
        ...


class AnswerPipeline(Protocol):
    """Starts answers: condense the follow-up, retrieve, answer citing the passages."""

    def start(self, request: AnswerRequest) -> AnswerInProgress: ...

    def starts_running(self) -> int:
        """Answers of this process starting now (condense, retrieval, the prompt)."""
        ...

    def starts_waiting(self) -> int:
        """Answers of this process waiting for their turn to start."""
        ...

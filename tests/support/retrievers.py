"""Searches for workflow tests: one that holds the retrieval phase open, so a test can
disconnect during it, one that holds every search until the test lets them through, and one
that finds the same passages for every question."""

from __future__ import annotations

import asyncio
import uuid

from llama_index.core.schema import NodeWithScore

from app.core.chunks import LiveChunk
from app.retrieval.retriever import chunk_node


def passage(text: str, heading: str, page: int | None = None) -> NodeWithScore:
    """A passage of the sample benefits handbook, as retrieval returns it."""
    chunk = LiveChunk(
        id=uuid.uuid4(),
        text=text,
        document_id=uuid.uuid4(),
        document_name="employee-benefits.md",
        collection="samples",
        title="Employee Benefits at Quillfen",
        page=page,
        heading=heading,
    )
    return chunk_node(chunk, 1.0)


class FixedSearch:
    """Finds `passages` whatever the question."""

    def __init__(self, *passages: NodeWithScore) -> None:
        self._passages = list(passages)

    async def search(self, question: str, collection: str) -> list[NodeWithScore]:
        return list(self._passages)


class HeldSearch:
    """Signals when retrieval starts, then waits until cancelled (and records that it was)."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.cancelled = asyncio.Event()

    async def search(self, question: str, collection: str) -> list[NodeWithScore]:
        self.entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return []


class TurnstileSearch:
    """Holds every search until `let_through()`, then finds `passages`; records the questions
    in the order their search began, and the most searches held at once."""

    def __init__(self, *passages: NodeWithScore) -> None:
        self._passages = list(passages)
        self._open = asyncio.Event()
        self._changed = asyncio.Event()
        self.began: list[str] = []
        self.held: list[str] = []
        self.most_at_once = 0

    def let_through(self) -> None:
        self._open.set()

    async def until_holding(self, count: int) -> None:
        """Returns once `count` searches are held (fails the test after 5 s)."""
        async with asyncio.timeout(5):
            while len(self.held) != count:
                self._changed.clear()
                await self._changed.wait()

    async def search(self, question: str, collection: str) -> list[NodeWithScore]:
        self.began.append(question)
        self.held.append(question)
        self.most_at_once = max(self.most_at_once, len(self.held))
        self._changed.set()
        try:
            await self._open.wait()
        finally:
            self.held.remove(question)
            self._changed.set()
        return list(self._passages)

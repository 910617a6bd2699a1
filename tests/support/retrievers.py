"""A search that holds the retrieval phase open, so a test can disconnect during it."""

from __future__ import annotations

import asyncio

from llama_index.core.schema import NodeWithScore


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

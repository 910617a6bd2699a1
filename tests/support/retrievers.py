"""A retriever that holds the retrieval phase open, so a test can disconnect during it."""

from __future__ import annotations

import asyncio

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle


class HeldRetriever(BaseRetriever):
    """Signals when retrieval starts, then waits until cancelled (and records that it was)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.cancelled = asyncio.Event()

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        raise AssertionError("the workflow must retrieve asynchronously")

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        self.entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return []

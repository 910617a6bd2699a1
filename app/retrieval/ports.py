"""What retrieval needs from the knowledge base, as Protocols the container fills.

Retrieval never imports the knowledge base: its indexes hand back chunk ids, and these ports
say which chunks are live now and when a collection changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from app.core.chunks import LiveChunk


class ChunkSource(Protocol):
    """Loads the chunks a search found, keeping only those that may still be cited."""

    async def live_chunks(self, chunk_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, LiveChunk]: ...


class CollectionGenerations(Protocol):
    """A collection's change counter: it grows with every change searches can observe."""

    async def generation(self, collection: str) -> int | None: ...


class ChunkIdSnapshot(Protocol):
    """The ids of every searchable chunk of a collection, as of one generation."""

    @property
    def generation(self) -> int: ...

    @property
    def chunk_ids(self) -> list[uuid.UUID]: ...


class CollectionChunks(ChunkSource, Protocol):
    """What an index of a whole collection is built from."""

    async def collection_snapshot(self, collection: str) -> ChunkIdSnapshot | None: ...

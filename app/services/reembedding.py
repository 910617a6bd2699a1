"""The re-embedding service: every searchable chunk embedded again, stale vectors removed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from app.core.errors import InvalidInput
from app.knowledge.chunks import ChunkLookup
from app.services.ports import VectorStore


class ReembeddingService:
    """Brings the vector index in step with the knowledge base (`citestream reembed`)."""

    def __init__(self, *, chunks: ChunkLookup, vectors: VectorStore | None) -> None:
        self._chunks = chunks
        self._vectors = vectors

    async def reembed(self, progress: Callable[[int], None] | None = None) -> int:
        """Embed every searchable chunk again (after the embedding model changed), and remove
        the vectors of chunks that are no longer served."""
        if self._vectors is None:
            raise InvalidInput(
                "No embedding model is configured (CITESTREAM_EMBEDDINGS__PROVIDER)."
            )
        vectors = self._vectors
        total = 0
        live: set[uuid.UUID] = set()
        async for batch in self._chunks.all_live_chunks():
            await asyncio.to_thread(vectors.add, batch)
            live.update(chunk.id for chunk in batch)
            total += len(batch)
            if progress is not None:
                progress(len(batch))
        # Vectors of chunks no longer served (deleted while Qdrant was out of reach, or left
        # by a failed ingest) only take search slots: remove them.
        stored = await asyncio.to_thread(vectors.point_ids)
        for collection, ids in stored.items():
            candidates = [point for point in ids if point not in live]
            # Chunks an ingest is writing right now (or published since the scan) keep theirs.
            in_use = await self._chunks.existing_chunk_ids(candidates)
            stale = [point for point in candidates if point not in in_use]
            await asyncio.to_thread(vectors.delete_chunks, collection, stale)
        return total

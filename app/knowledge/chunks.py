"""Reading stored chunks: the live ones searches may cite, a collection's snapshot for its
lexical index, and a cited chunk among its neighbours.

A chunk is live when its document is searchable and the chunk belongs to the version the
document currently serves: a half-written or replaced version is never cited.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence

from sqlalchemy import bindparam, select

from app.core.chunks import LiveChunk
from app.core.database import Database, table_of
from app.knowledge.models import Chunk, Document, KnowledgeCollection
from app.knowledge.rows import SEARCHABLE_STATUSES, ChunkRow, CollectionSnapshot

# Table columns (a Core query), not mapped attributes: every question reads its passages
# here, and the ORM's statement handling cost more than the read.
_CHUNKS = table_of(Chunk).c
_DOCUMENTS = table_of(Document).c
_LIVE_CHUNK_COLUMNS = (
    _CHUNKS.id,
    _CHUNKS.text,
    _CHUNKS.page,
    _CHUNKS.heading,
    _DOCUMENTS.id,
    _DOCUMENTS.name,
    _DOCUMENTS.title,
    _DOCUMENTS.collection,
)

_LIVE_CHUNKS = (
    select(*_LIVE_CHUNK_COLUMNS)
    .join(table_of(Document), _DOCUMENTS.id == _CHUNKS.document_id)
    .where(_DOCUMENTS.status.in_(SEARCHABLE_STATUSES), _CHUNKS.version == _DOCUMENTS.version)
)
# Built once: building the statement for each question cost more than running it.
_LIVE_CHUNKS_AMONG = _LIVE_CHUNKS.where(_CHUNKS.id.in_(bindparam("chunk_ids", expanding=True)))


class ChunkLookup:
    """Reads the chunks of the knowledge base."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def live_chunks(self, chunk_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, LiveChunk]:
        """The chunks among `chunk_ids` that may still be cited."""
        if not chunk_ids:
            return {}
        async with self._database.read_once() as db:
            rows = (await db.execute(_LIVE_CHUNKS_AMONG, {"chunk_ids": list(chunk_ids)})).all()
        return {row[0]: LiveChunk(*row) for row in rows}

    async def collection_snapshot(self, collection: str) -> CollectionSnapshot | None:
        """The ids of every searchable chunk of a collection, with their generation."""
        async with self._database.reading() as db:
            generation = await db.scalar(
                select(KnowledgeCollection.generation).where(KnowledgeCollection.name == collection)
            )
            if generation is None:
                return None
            ids = await db.scalars(
                select(Chunk.id)
                .join(Document, Document.id == Chunk.document_id)
                .where(
                    Document.collection == collection,
                    Document.status.in_(SEARCHABLE_STATUSES),
                    Chunk.version == Document.version,
                )
                .order_by(Chunk.document_id, Chunk.seq)
            )
            return CollectionSnapshot(generation, list(ids))

    async def all_live_chunks(self, batch_size: int = 500) -> AsyncIterator[list[LiveChunk]]:
        """Every searchable chunk of every collection, in batches (for re-embedding)."""
        last: uuid.UUID | None = None
        while True:
            query = _LIVE_CHUNKS.order_by(Chunk.id).limit(batch_size)
            if last is not None:
                query = query.where(Chunk.id > last)
            async with self._database.reading() as db:
                batch = [LiveChunk(*row) for row in (await db.execute(query)).all()]
            if not batch:
                return
            yield batch
            last = batch[-1].id

    async def existing_chunk_ids(self, chunk_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these chunks are stored at all, published or still being written."""
        found: set[uuid.UUID] = set()
        async with self._database.reading() as db:
            for start in range(0, len(chunk_ids), 1000):
                batch = chunk_ids[start : start + 1000]
                found.update((await db.scalars(select(Chunk.id).where(Chunk.id.in_(batch)))).all())
        return found

    async def chunk_in_context(
        self, document_id: uuid.UUID, chunk_id: uuid.UUID, radius: int
    ) -> list[ChunkRow] | None:
        """A chunk of the document's current version with `radius` neighbours on each side."""
        async with self._database.reading() as db:
            target = (
                await db.execute(
                    select(Chunk.seq, Chunk.version)
                    .join(Document, Document.id == Chunk.document_id)
                    .where(
                        Chunk.id == chunk_id,
                        Chunk.document_id == document_id,
                        Chunk.version == Document.version,
                    )
                )
            ).one_or_none()
            if target is None:
                return None
            seq, version = target
            chunks = await db.scalars(
                select(Chunk)
                .where(
                    Chunk.document_id == document_id,
                    Chunk.version == version,
                    Chunk.seq.between(seq - radius, seq + radius),
                )
                .order_by(Chunk.seq)
            )
            return [ChunkRow(c.id, c.seq, c.text, c.page, c.heading) for c in chunks]

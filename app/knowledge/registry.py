"""The document registry: collections, documents and their versioned chunks in SQL.

Every change a search can observe (a document published, replaced or deleted) bumps its
collection's generation in the same transaction, so in-memory indexes know when to rebuild.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from app.core.chunks import ChunkDraft, LiveChunk
from app.core.database import Database, as_utc, utcnow
from app.core.errors import Conflict
from app.core.pagination import Page
from app.knowledge.models import (
    SEARCHABLE_STATUSES,
    Chunk,
    Document,
    DocumentStatus,
    KnowledgeCollection,
)

_MAX_HEADING = 1000  # the column's width


@dataclass(frozen=True)
class DocumentRow:
    """A registered document."""

    id: uuid.UUID
    collection: str
    name: str
    title: str
    media_type: str
    content_hash: str
    size_bytes: int
    chunk_count: int
    page_count: int | None
    status: DocumentStatus
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class NewVersion:
    """What a parsed file says about its document, written when its chunks are published."""

    title: str
    media_type: str
    content_hash: str
    size_bytes: int
    chunk_count: int
    page_count: int | None


@dataclass(frozen=True)
class Publication:
    """A written version to make live: `name` is the document's, for the error if it went."""

    document_id: uuid.UUID
    name: str
    version: int
    details: NewVersion


@dataclass(frozen=True)
class ChunkRow:
    """A stored chunk of a document's current version."""

    id: uuid.UUID
    seq: int
    text: str
    page: int | None
    heading: str | None


@dataclass(frozen=True)
class CollectionRow:
    """A collection and how much it holds."""

    name: str
    document_count: int
    chunk_count: int
    updated_at: datetime


@dataclass(frozen=True)
class CollectionSnapshot:
    """The ids of every searchable chunk of a collection, as of one generation."""

    generation: int
    chunk_ids: list[uuid.UUID]


_LIVE_CHUNK_COLUMNS = (
    Chunk.id,
    Chunk.text,
    Chunk.page,
    Chunk.heading,
    Document.id,
    Document.name,
    Document.title,
    Document.collection,
)


# A chunk is live when its document is searchable and the chunk belongs to the version the
# document currently serves: a half-written or replaced version is never cited.
_LIVE_CHUNKS = (
    select(*_LIVE_CHUNK_COLUMNS)
    .join(Document, Document.id == Chunk.document_id)
    .where(Document.status.in_(SEARCHABLE_STATUSES), Chunk.version == Document.version)
)


class DocumentRegistry:
    """Reads and writes the knowledge base's tables in SQLite or PostgreSQL."""

    def __init__(self, database: Database) -> None:
        self._database = database

    # -- collections ---------------------------------------------------------------------------

    async def generation(self, collection: str) -> int | None:
        """The collection's change counter; None when it does not exist."""
        async with self._database.reading() as db:
            return await db.scalar(
                select(KnowledgeCollection.generation).where(KnowledgeCollection.name == collection)
            )

    async def list_collections(self) -> list[CollectionRow]:
        """Every collection with its document and chunk counts, by name."""
        documents = (
            select(func.count(Document.id))
            .where(Document.collection == KnowledgeCollection.name)
            .correlate(KnowledgeCollection)
            .scalar_subquery()
        )
        chunks = (
            select(func.coalesce(func.sum(Document.chunk_count), 0))
            .where(
                Document.collection == KnowledgeCollection.name,
                Document.status.in_(SEARCHABLE_STATUSES),
            )
            .correlate(KnowledgeCollection)
            .scalar_subquery()
        )
        query = select(KnowledgeCollection, documents, chunks).order_by(KnowledgeCollection.name)
        async with self._database.reading() as db:
            rows = (await db.execute(query)).tuples().all()
        return [
            CollectionRow(row.name, int(docs), int(chunk_total), as_utc(row.updated_at))
            for row, docs, chunk_total in rows
        ]

    async def document_count(self) -> int:
        """Searchable documents across every collection."""
        async with self._database.reading() as db:
            count = await db.scalar(
                select(func.count(Document.id)).where(Document.status.in_(SEARCHABLE_STATUSES))
            )
        return int(count or 0)

    # -- finding documents ---------------------------------------------------------------------

    async def get(self, document_id: uuid.UUID) -> DocumentRow | None:
        """One document, or None."""
        async with self._database.reading() as db:
            document = await db.get(Document, document_id)
            return None if document is None else _document_row(document)

    async def find_by_hash(self, collection: str, content_hash: str) -> DocumentRow | None:
        """The document of the collection with exactly this content, if any."""
        return await self._find(
            Document.collection == collection, Document.content_hash == content_hash
        )

    async def find_by_name(self, collection: str, name: str) -> DocumentRow | None:
        """The document of the collection with this name, if any."""
        return await self._find(Document.collection == collection, Document.name == name)

    async def _find(self, *conditions: object) -> DocumentRow | None:
        async with self._database.reading() as db:
            document = await db.scalar(
                select(Document)
                .where(*conditions)  # type: ignore[arg-type]
                .order_by(Document.created_at)
                .limit(1)
            )
            return None if document is None else _document_row(document)

    async def list_documents(
        self, collection: str | None, limit: int, offset: int
    ) -> Page[DocumentRow]:
        """Documents by collection and name."""
        conditions = [] if collection is None else [Document.collection == collection]
        query = (
            select(Document)
            .where(*conditions)
            .order_by(Document.collection, Document.name, Document.id)
            .limit(limit)
            .offset(offset)
        )
        async with self._database.reading() as db:
            total = await db.scalar(select(func.count(Document.id)).where(*conditions))
            documents = (await db.scalars(query)).all()
        items = [_document_row(document) for document in documents]
        return Page(items=items, total=int(total or 0), limit=limit, offset=offset)

    # -- writing a version ---------------------------------------------------------------------

    async def reserve_new(
        self, collection: str, name: str, content_hash: str, media_type: str, size_bytes: int
    ) -> DocumentRow:
        """Register a new document, not yet searchable; this ingest writes its version 1."""
        now = utcnow()
        try:
            async with self._database.session() as db:
                await db.execute(self._insert_collection_if_missing(collection, now))
                document = Document(
                    id=uuid.uuid4(),
                    collection=collection,
                    name=name,
                    title=name[:500],
                    media_type=media_type,
                    content_hash=content_hash,
                    size_bytes=size_bytes,
                    chunk_count=0,
                    status=DocumentStatus.INDEXING,
                    version=1,
                    pending_version=1,
                    created_at=now,
                    updated_at=now,
                )
                db.add(document)
                await db.flush()
                return _document_row(document)
        except IntegrityError:
            raise _being_ingested(name, collection) from None

    async def reserve_update(
        self, document_id: uuid.UUID, stale_before: datetime
    ) -> tuple[DocumentRow, int] | None:
        """Hold a searchable document for a new version: returns it and the version number this
        ingest writes, or None when another ingest holds it.

        A hold older than `stale_before` was left by a process that seems dead and is taken
        over; the version number grows with every attempt, so the two never mix.
        """
        now = utcnow()
        async with self._database.session() as db:
            claimed = await db.execute(
                update(Document)
                .where(
                    Document.id == document_id,
                    (Document.status == DocumentStatus.READY)
                    | (
                        (Document.status == DocumentStatus.UPDATING)
                        & (Document.updated_at < stale_before)
                    ),
                )
                .values(status=DocumentStatus.UPDATING, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None
            document = await db.get(Document, document_id)
            assert document is not None
            version = max(document.version, document.pending_version or 0) + 1
            document.pending_version = version
            # Chunks of attempts that never published.
            await db.execute(
                delete(Chunk).where(
                    Chunk.document_id == document_id, Chunk.version != document.version
                )
            )
            return _document_row(document), version

    async def take_over_stale(self, document_id: uuid.UUID, stale_before: datetime) -> bool:
        """Remove a never-published document whose ingest died; False if it is still live."""
        async with self._database.session() as db:
            removed = await db.scalar(
                delete(Document)
                .where(
                    Document.id == document_id,
                    Document.status == DocumentStatus.INDEXING,
                    Document.updated_at < stale_before,
                )
                .returning(Document.id)
            )
        return removed is not None

    async def add_chunks(
        self, document_id: uuid.UUID, version: int, drafts: Sequence[ChunkDraft]
    ) -> list[uuid.UUID]:
        """Store a version's chunks (not searchable until published); returns their ids."""
        ids = [uuid.uuid4() for _ in drafts]
        rows = [
            {
                "id": chunk_id,
                "document_id": document_id,
                "version": version,
                "seq": draft.seq,
                "text": draft.text,
                "page": draft.page,
                "heading": None if draft.heading is None else draft.heading[:_MAX_HEADING],
            }
            for chunk_id, draft in zip(ids, drafts, strict=True)
        ]
        try:
            async with self._database.session() as db:
                for start in range(0, len(rows), 1000):
                    await db.execute(insert(Chunk), rows[start : start + 1000])
        except IntegrityError:
            # The document row went: deleted, or taken over as a dead ingest's.
            raise Conflict("The document was deleted while it was being ingested.") from None
        return ids

    async def publish(
        self, document_id: uuid.UUID, version: int, details: NewVersion
    ) -> list[uuid.UUID] | None:
        """Make `version` the one searches serve, in one transaction.

        Returns the ids of the chunks it replaced, or None when the document was deleted
        meanwhile; Conflict when another ingest took the document over.
        """
        try:
            [replaced] = await self.publish_all([Publication(document_id, "", version, details)])
        except _Deleted:
            return None
        return replaced

    async def publish_all(self, publications: Sequence[Publication]) -> list[list[uuid.UUID]]:
        """Make every listed version the one searches serve, in one transaction: all of them or,
        on Conflict (a document was deleted or taken over meanwhile), none.

        Returns, for each publication, the ids of the chunks it replaced.
        """
        now = utcnow()
        replaced: dict[uuid.UUID, list[uuid.UUID]] = {}
        async with self._database.session() as db:
            collections = set()
            # Locked in id order, so two uploads that share documents cannot deadlock.
            for publication in sorted(publications, key=lambda p: p.document_id):
                document = await db.get(Document, publication.document_id, with_for_update=True)
                if document is None:
                    raise _Deleted(publication.name)
                replaced[document.id] = await self._make_live(
                    db, document, publication.version, publication.details, now
                )
                collections.add(document.collection)
            for collection in sorted(collections):
                await self._bump(db, collection, now)
        return [replaced[publication.document_id] for publication in publications]

    @staticmethod
    async def _make_live(
        db: AsyncSession, document: Document, version: int, details: NewVersion, now: datetime
    ) -> list[uuid.UUID]:
        if document.pending_version != version:
            raise _being_ingested(document.name, document.collection)
        document.title = details.title[:500]
        document.media_type = details.media_type
        document.content_hash = details.content_hash
        document.size_bytes = details.size_bytes
        document.chunk_count = details.chunk_count
        document.page_count = details.page_count
        document.status = DocumentStatus.READY
        document.version = version
        document.pending_version = None
        document.updated_at = now
        replaced = await db.scalars(
            delete(Chunk)
            .where(Chunk.document_id == document.id, Chunk.version != version)
            .returning(Chunk.id)
        )
        return list(replaced.all())

    async def abandon(self, document_id: uuid.UUID, version: int) -> bool:
        """Undo an ingest that failed: drop the chunks of its version and its hold; a new
        document disappears entirely.

        Returns False when that version was published after all (the failure came after the
        commit, say a cancellation while awaiting it): then nothing is undone.
        """
        async with self._database.session() as db:
            document = await db.get(Document, document_id, with_for_update=True)
            if document is None:
                return True  # deleted meanwhile: its chunks went with it
            if document.version == version and document.pending_version != version:
                return False
            await db.execute(
                delete(Chunk).where(
                    Chunk.document_id == document_id,
                    Chunk.version == version,
                    Chunk.version != document.version,
                )
            )
            if document.pending_version == version:
                if document.status == DocumentStatus.INDEXING:
                    await db.delete(document)
                else:
                    document.pending_version = None
                    document.status = DocumentStatus.READY
            return True

    async def delete(self, document_id: uuid.UUID) -> DocumentRow | None:
        """Remove a document and its chunks; searches stop finding it at once."""
        now = utcnow()
        async with self._database.session() as db:
            document = await db.get(Document, document_id)
            if document is None:
                return None
            row = _document_row(document)
            await db.execute(delete(Document).where(Document.id == document_id))
            await self._bump(db, row.collection, now)
        return row

    # -- reading chunks ------------------------------------------------------------------------

    async def live_chunks(self, chunk_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, LiveChunk]:
        """The chunks among `chunk_ids` that may still be cited."""
        if not chunk_ids:
            return {}
        async with self._database.reading() as db:
            rows = (await db.execute(_LIVE_CHUNKS.where(Chunk.id.in_(chunk_ids)))).all()
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

    # -- helpers -------------------------------------------------------------------------------

    def _insert_collection_if_missing(self, name: str, now: datetime) -> Insert:
        values = {"name": name, "generation": 0, "created_at": now, "updated_at": now}
        if self._database.dialect == "postgresql":
            return (
                postgresql.insert(KnowledgeCollection)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["name"])
            )
        return (
            sqlite.insert(KnowledgeCollection)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["name"])
        )

    @staticmethod
    async def _bump(db: AsyncSession, collection: str, now: datetime) -> None:
        await db.execute(
            update(KnowledgeCollection)
            .where(KnowledgeCollection.name == collection)
            .values(generation=KnowledgeCollection.generation + 1, updated_at=now)
            .execution_options(synchronize_session=False)
        )


class _Deleted(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name or 'A document'} was deleted while it was being ingested.")


def _being_ingested(name: str, collection: str) -> Conflict:
    return Conflict(
        f"{name} is being ingested into collection {collection!r} by another request; "
        "try again when it is done."
    )


def _document_row(document: Document) -> DocumentRow:
    return DocumentRow(
        id=document.id,
        collection=document.collection,
        name=document.name,
        title=document.title,
        media_type=document.media_type,
        content_hash=document.content_hash,
        size_bytes=document.size_bytes,
        chunk_count=document.chunk_count,
        page_count=document.page_count,
        status=document.status,
        version=document.version,
        created_at=as_utc(document.created_at),
        updated_at=as_utc(document.updated_at),
    )

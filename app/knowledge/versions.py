"""A document's versions: reserve, write the chunks, publish in one step, or abandon; delete.

A changed file gets a new version written beside the one searches serve; one transaction makes
it current. Each attempt gets its own version number, so an attempt taken over (its process
seemed dead) can neither publish nor undo over the one that took over. Every step searches can
observe bumps the collection's generation in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.changes import CollectionChanges
from app.core.chunks import ChunkDraft
from app.core.clock import Clock
from app.core.database import Database
from app.core.errors import Conflict, NotFound
from app.knowledge.collections import bump_generation, insert_if_missing
from app.knowledge.documents import document_row
from app.knowledge.models import Chunk, Document, KnowledgeCollection
from app.knowledge.rows import DocumentRow, DocumentStatus, NewVersion, Publication

_MAX_HEADING = 1000  # the column's width


class DocumentVersions:
    """Writes documents and their versioned chunks, one ingest at a time per document."""

    def __init__(
        self, database: Database, clock: Clock, changes: CollectionChanges | None = None
    ) -> None:
        self._database = database
        self._clock = clock
        self._changes = changes or CollectionChanges()

    async def reserve_new(
        self,
        collection: str,
        name: str,
        content_hash: str,
        media_type: str,
        size_bytes: int,
        owner: str = "local",
    ) -> DocumentRow:
        """Register a new document, not yet searchable; this ingest writes its version 1. The
        collection is created for `owner` if it does not exist; the document belongs to the
        collection's owner."""
        now = self._clock.now()
        try:
            async with self._database.session() as db:
                await db.execute(insert_if_missing(self._database.dialect, collection, now, owner))
                holder = await db.scalar(
                    select(KnowledgeCollection.owner_id).where(
                        KnowledgeCollection.name == collection
                    )
                )
                if holder != owner:  # created by someone else while this upload was read
                    raise NotFound(f"There is no collection {collection!r} for you to add to.")
                document = Document(
                    id=uuid.uuid4(),
                    owner_id=owner,
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
                return document_row(document)
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
        now = self._clock.now()
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
            return document_row(document), version

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
        now = self._clock.now()
        replaced: dict[uuid.UUID, list[uuid.UUID]] = {}
        async with self._database.session() as db:
            collections = set()
            # Locked in id order, so two uploads that share documents cannot deadlock.
            for publication in sorted(publications, key=lambda p: p.document_id):
                document = await db.get(Document, publication.document_id, with_for_update=True)
                if document is None:
                    raise _Deleted(publication.name)
                replaced[document.id] = await _make_live(
                    db, document, publication.version, publication.details, now
                )
                collections.add(document.collection)
            for collection in sorted(collections):
                await db.execute(bump_generation(collection, now))
        for collection in sorted(collections):
            self._changes.changed(collection)
        return [replaced[publication.document_id] for publication in publications]

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
        now = self._clock.now()
        async with self._database.session() as db:
            document = await db.get(Document, document_id)
            if document is None:
                return None
            row = document_row(document)
            await db.execute(delete(Document).where(Document.id == document_id))
            await db.execute(bump_generation(row.collection, now))
        self._changes.changed(row.collection)
        return row


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


class _Deleted(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name or 'A document'} was deleted while it was being ingested.")


def _being_ingested(name: str, collection: str) -> Conflict:
    return Conflict(
        f"{name} is being ingested into collection {collection!r} by another request; "
        "try again when it is done."
    )

"""Collections: which exist, what they hold, and the generation that tells indexes to rebuild.

Every change a search can observe (a document published, replaced or deleted) bumps its
collection's generation in the transaction that makes the change: `bump_generation` and
`insert_if_missing` are statements for the caller to run in its own transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert, Update

from app.core.database import Database, as_utc
from app.knowledge.models import Document, KnowledgeCollection
from app.knowledge.rows import SEARCHABLE_STATUSES, CollectionRow


class CollectionCatalog:
    """Reads the collections of the knowledge base."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def generation(self, collection: str) -> int | None:
        """The collection's change counter; None when it does not exist."""
        async with self._database.reading() as db:
            return await db.scalar(
                select(KnowledgeCollection.generation).where(KnowledgeCollection.name == collection)
            )

    async def owner_of(self, collection: str) -> str | None:
        """The principal that owns the collection; None when it does not exist."""
        async with self._database.reading() as db:
            return await db.scalar(
                select(KnowledgeCollection.owner_id).where(KnowledgeCollection.name == collection)
            )

    async def list_collections(self, owner: str | None = None) -> list[CollectionRow]:
        """Every collection (of `owner`, when given) with its document and chunk counts."""
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
        owned = [] if owner is None else [KnowledgeCollection.owner_id == owner]
        query = (
            select(KnowledgeCollection, documents, chunks)
            .where(*owned)
            .order_by(KnowledgeCollection.name)
        )
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


def insert_if_missing(dialect: str, name: str, now: datetime, owner: str) -> Insert:
    """A statement creating the collection `name` (generation 0, owned by `owner`) unless it
    exists."""
    values = {
        "name": name,
        "generation": 0,
        "owner_id": owner,
        "created_at": now,
        "updated_at": now,
    }
    if dialect == "postgresql":
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


def bump_generation(collection: str, now: datetime) -> Update:
    """A statement telling in-memory indexes that the collection's searchable chunks changed."""
    return (
        update(KnowledgeCollection)
        .where(KnowledgeCollection.name == collection)
        .values(generation=KnowledgeCollection.generation + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )

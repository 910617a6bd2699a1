"""Finding documents: by id, by name or content within a collection, and a page at a time."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from app.core.database import Database, as_utc
from app.core.pagination import Page
from app.knowledge.models import Document
from app.knowledge.rows import DocumentRow


class DocumentLookup:
    """Reads the documents of the knowledge base."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def get(self, document_id: uuid.UUID, owner: str | None = None) -> DocumentRow | None:
        """One document (of `owner`, when given), or None."""
        async with self._database.reading() as db:
            document = await db.get(Document, document_id)
            if document is None or (owner is not None and document.owner_id != owner):
                return None
            return document_row(document)

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
            return None if document is None else document_row(document)

    async def list_documents(
        self, collection: str | None, limit: int, offset: int, owner: str | None = None
    ) -> Page[DocumentRow]:
        """Documents (of `owner`, when given) by collection and name."""
        conditions = [] if collection is None else [Document.collection == collection]
        if owner is not None:
            conditions.append(Document.owner_id == owner)
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
        items = [document_row(document) for document in documents]
        return Page(items=items, total=int(total or 0), limit=limit, offset=offset)


def document_row(document: Document) -> DocumentRow:
    """A stored document as the plain row the rest of the app sees."""
    return DocumentRow(
        id=document.id,
        owner_id=document.owner_id,
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

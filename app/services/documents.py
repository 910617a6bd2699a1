"""The documents service: browse the knowledge base, show a chunk in context, delete."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

from app.core.errors import InvalidInput, NotFound
from app.core.names import check_collection_name, document_name
from app.core.pagination import Page
from app.core.principals import Principal
from app.knowledge.chunks import ChunkLookup
from app.knowledge.collections import CollectionCatalog
from app.knowledge.documents import DocumentLookup
from app.knowledge.rows import ChunkRow, CollectionRow, DocumentRow
from app.knowledge.versions import DocumentVersions
from app.services.ports import VectorStore

logger = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100
MAX_CONTEXT_RADIUS = 10


@dataclass(frozen=True)
class DocumentInContext:
    """A document, and optionally one of its chunks with its neighbours."""

    document: DocumentRow
    context: list[ChunkRow] | None
    focus: uuid.UUID | None


class DocumentService:
    """Lists, shows and deletes the documents of the knowledge base."""

    def __init__(
        self,
        *,
        documents: DocumentLookup,
        chunks: ChunkLookup,
        collections: CollectionCatalog,
        versions: DocumentVersions,
        vectors: VectorStore | None,
    ) -> None:
        self._documents = documents
        self._chunks = chunks
        self._collections = collections
        self._versions = versions
        self._vectors = vectors

    async def list_documents(
        self, collection: str | None, limit: int, offset: int, principal: Principal
    ) -> Page[DocumentRow]:
        """A page of the principal's documents (an admin's: all), by collection and name."""
        if collection is not None:
            check_collection_name(collection)
        _check_window(limit, offset)
        return await self._documents.list_documents(
            collection, limit, offset, principal.owner_filter
        )

    async def get(
        self,
        document_id: uuid.UUID,
        principal: Principal,
        chunk_id: uuid.UUID | None = None,
        radius: int = 1,
    ) -> DocumentInContext:
        """A document; with `chunk_id`, that chunk and `radius` neighbours on each side."""
        if not 0 <= radius <= MAX_CONTEXT_RADIUS:
            raise InvalidInput(
                f"context must be between 0 and {MAX_CONTEXT_RADIUS}.", field_name="context"
            )
        document = await self._documents.get(document_id, principal.owner_filter)
        if document is None:
            raise NotFound(f"There is no document {document_id}.")
        if chunk_id is None:
            return DocumentInContext(document, None, None)
        context = await self._chunks.chunk_in_context(document_id, chunk_id, radius)
        if context is None:
            raise NotFound(
                f"Document {document_id} has no chunk {chunk_id} (it may have been replaced "
                "by a newer version of the file)."
            )
        return DocumentInContext(document, context, chunk_id)

    async def find(self, collection: str, name: str) -> DocumentRow:
        """A document by its name in a collection."""
        check_collection_name(collection)
        document = await self._documents.find_by_name(collection, document_name(name))
        if document is None:
            raise NotFound(f"Collection {collection!r} has no document named {name!r}.")
        return document

    async def list_collections(self, principal: Principal) -> list[CollectionRow]:
        """The principal's collections (an admin's: all) and how much each holds."""
        return await self._collections.list_collections(principal.owner_filter)

    async def count(self) -> int:
        """Searchable documents across every collection."""
        return await self._collections.document_count()

    async def delete(self, document_id: uuid.UUID, principal: Principal) -> DocumentRow:
        """Delete a document; answers stop citing it at once. Not yours: 404."""
        if await self._documents.get(document_id, principal.owner_filter) is None:
            raise NotFound(f"There is no document {document_id}.")
        document = await self._versions.delete(document_id)
        if document is None:
            raise NotFound(f"There is no document {document_id}.")
        if self._vectors is not None:
            try:
                await asyncio.to_thread(
                    self._vectors.delete_document, document.collection, document_id
                )
            except Exception as error:
                # Never cited (searches load chunks from the database); `reembed` prunes them.
                logger.warning(
                    "The vectors of %s stay in Qdrant until `citestream reembed`: %s",
                    document.name,
                    error,
                )
        return document


def _check_window(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}.", field_name="limit")
    if offset < 0:
        raise InvalidInput("offset must not be negative.", field_name="offset")

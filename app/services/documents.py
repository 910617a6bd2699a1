"""The documents service: ingest files into a collection, browse, show in context, delete.

An upload is ingested whole or not at all: every file is read and chunked before anything is
stored, each file's chunks are written as a new version that searches cannot see, and one
transaction publishes the versions of all the files (replacing the previous ones). A failure
at any step removes what the attempt wrote, for every file of the upload.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import anyio

from app.core.chunks import ChunkDraft, LiveChunk
from app.core.clock import Clock
from app.core.errors import CitestreamError, Conflict, InvalidInput, NotFound, PayloadTooLarge
from app.core.names import check_collection_name, document_name
from app.core.pagination import Page
from app.core.settings import IngestionSettings
from app.ingestion.chunking import Chunker
from app.ingestion.readers import ParsedDocument, UnreadableDocument, media_type_of, parse
from app.knowledge.chunks import ChunkLookup
from app.knowledge.collections import CollectionCatalog
from app.knowledge.documents import DocumentLookup
from app.knowledge.rows import (
    ChunkRow,
    CollectionRow,
    DocumentRow,
    DocumentStatus,
    NewVersion,
    Publication,
)
from app.knowledge.versions import DocumentVersions
from app.retrieval.dense import VectorIndex

logger = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100
MAX_CONTEXT_RADIUS = 10
# An ingest that has held a document this long is taken to have died with its process.
INGEST_LEASE = timedelta(minutes=30)


class IngestOutcome(enum.StrEnum):
    """What ingesting a file did."""

    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class IncomingFile:
    """A file to ingest: its document name, its size, and how to read it."""

    name: str
    size: int
    read: Callable[[], bytes]


@dataclass(frozen=True)
class Ingested:
    """One file's outcome and the document it is now."""

    outcome: IngestOutcome
    document: DocumentRow


@dataclass(frozen=True)
class _Prepared:
    name: str
    content_hash: str
    size: int
    parsed: ParsedDocument
    chunks: list[ChunkDraft]


@dataclass
class _Staged:
    """A file's new version, written but not yet live."""

    prepared: _Prepared
    document: DocumentRow
    version: int
    added: bool
    chunk_ids: list[uuid.UUID] = field(default_factory=list)
    embedded: bool = False

    @property
    def publication(self) -> Publication:
        p = self.prepared
        details = NewVersion(
            title=p.parsed.title,
            media_type=p.parsed.media_type,
            content_hash=p.content_hash,
            size_bytes=p.size,
            chunk_count=len(p.chunks),
            page_count=p.parsed.page_count,
        )
        return Publication(self.document.id, p.name, self.version, details)


@dataclass(frozen=True)
class _CopyOf:
    """A new file whose bytes are those of another new file in the same upload."""

    original: _Staged


@dataclass(frozen=True)
class DocumentInContext:
    """A document, and optionally one of its chunks with its neighbours."""

    document: DocumentRow
    context: list[ChunkRow] | None
    focus: uuid.UUID | None


class DocumentService:
    """Ingests, lists, shows and deletes the documents of the knowledge base."""

    def __init__(
        self,
        *,
        documents: DocumentLookup,
        versions: DocumentVersions,
        chunks: ChunkLookup,
        collections: CollectionCatalog,
        vectors: VectorIndex | None,
        settings: IngestionSettings,
        clock: Clock,
    ) -> None:
        self._documents = documents
        self._versions = versions
        self._chunks = chunks
        self._collections = collections
        self._clock = clock
        self._vectors = vectors
        self._settings = settings
        self._chunker = Chunker(settings)

    # -- ingesting -----------------------------------------------------------------------------

    async def ingest(self, files: list[IncomingFile], collection: str) -> list[Ingested]:
        """Ingest files into a collection, all or nothing: every file is read and checked before
        any is stored, and their new versions go live in one transaction."""
        check_collection_name(collection)
        if not files:
            raise InvalidInput("Send at least one file.", field_name="files")
        names = [document_name(file.name) for file in files]
        if len(set(names)) != len(names):
            raise InvalidInput("Two of the files have the same name.", field_name="files")
        prepared = [
            await self._prepare(file, name) for file, name in zip(files, names, strict=True)
        ]
        staged: list[_Staged] = []
        plan: list[Ingested | _Staged | _CopyOf] = []
        try:
            for document in prepared:
                plan.append(await self._stage(document, collection, staged))
            replaced = await self._versions.publish_all([stage.publication for stage in staged])
        except BaseException:
            with anyio.CancelScope(shield=True):
                for stage in reversed(staged):
                    await self._unstage(stage, collection)
            raise
        for chunk_ids in replaced:
            if chunk_ids:
                await self._forget_vectors(collection, chunk_ids)
        return [await self._published(step) for step in plan]

    async def ingest_one(self, file: IncomingFile, collection: str) -> Ingested:
        """Ingest one file (the command line's unit of progress)."""
        [result] = await self.ingest([file], collection)
        return result

    async def _prepare(self, file: IncomingFile, name: str) -> _Prepared:
        media_type_of(name)  # an unsupported type is refused before the file is read
        if file.size > self._settings.max_file_bytes:
            raise PayloadTooLarge(
                f"{name}: the file is {file.size} bytes; the limit is "
                f"{self._settings.max_file_bytes} (CITESTREAM_INGESTION__MAX_FILE_BYTES)."
            )
        return await asyncio.to_thread(self._read_and_split, file, name)

    def _read_and_split(self, file: IncomingFile, name: str) -> _Prepared:
        """Read, hash, parse and chunk a file: blocking and CPU-bound, so run off the loop."""
        data = file.read()
        try:
            parsed = parse(name, data)
        except CitestreamError:
            raise
        except Exception:
            # A reader bug on an odd file must still be a clear 422, not a 500.
            logger.exception("Could not read %s", name)
            raise UnreadableDocument(name, "the file could not be read") from None
        chunks = self._chunker.split(parsed)
        return _Prepared(name, hashlib.sha256(data).hexdigest(), len(data), parsed, chunks)

    async def _stage(
        self, prepared: _Prepared, collection: str, staged: list[_Staged]
    ) -> Ingested | _Staged | _CopyOf:
        """Write a file's new version where searches cannot see it yet (appended to `staged`
        as soon as there is something to undo), or find that nothing changed."""
        existing = await self._documents.find_by_name(collection, prepared.name)
        if existing is None:
            # A new name: the same bytes already here are that document, not a copy.
            same_content = await self._documents.find_by_hash(collection, prepared.content_hash)
            if same_content is not None and same_content.status != DocumentStatus.INDEXING:
                return Ingested(IngestOutcome.UNCHANGED, same_content)
            for earlier in staged:  # ...or a file earlier in this same upload
                if earlier.added and earlier.prepared.content_hash == prepared.content_hash:
                    return _CopyOf(earlier)
        elif (
            existing.content_hash == prepared.content_hash
            and existing.status == DocumentStatus.READY
        ):
            return Ingested(IngestOutcome.UNCHANGED, existing)
        # Otherwise a hold by another ingest (even one bringing these same bytes back while it
        # replaces them) is a 409 from _reserve: answering "unchanged" would lose this upload.
        document, version = await self._reserve(prepared, collection, existing)
        stage = _Staged(prepared, document, version, added=version == 1)
        staged.append(stage)
        stage.chunk_ids = await self._versions.add_chunks(document.id, version, prepared.chunks)
        if self._vectors is not None:
            await asyncio.to_thread(
                self._vectors.add, _live_chunks(document, collection, prepared, stage.chunk_ids)
            )
            stage.embedded = True
        return stage

    async def _unstage(self, stage: _Staged, collection: str) -> None:
        # The vectors of an add that itself failed part-way are left: their ids are never
        # reused, searches serve only published chunks, and `reembed` prunes them.
        if await self._undo(stage.document.id, stage.version) and stage.embedded:
            await self._forget_vectors(collection, stage.chunk_ids)

    async def _published(self, step: Ingested | _Staged | _CopyOf) -> Ingested:
        if isinstance(step, Ingested):
            return step
        stage = step.original if isinstance(step, _CopyOf) else step
        stored = await self._documents.get(stage.document.id)
        if stored is None:
            raise Conflict(f"{stage.prepared.name} was deleted just after it was ingested.")
        if isinstance(step, _CopyOf):
            outcome = IngestOutcome.UNCHANGED
        else:
            outcome = IngestOutcome.ADDED if step.added else IngestOutcome.UPDATED
        return Ingested(outcome, stored)

    async def _reserve(
        self, prepared: _Prepared, collection: str, existing: DocumentRow | None
    ) -> tuple[DocumentRow, int]:
        """Hold the document's name for this ingest: a new document (version 1) or a new
        version of the existing one."""
        stale_before = self._clock.now() - INGEST_LEASE
        busy = _busy(prepared.name, collection)
        if existing is not None and existing.status == DocumentStatus.INDEXING:
            # Its first ingest is under way, or died part-way: taken over once its lease ran out.
            if not await self._versions.take_over_stale(existing.id, stale_before):
                raise busy
            existing = None
        if existing is None:
            reserved = await self._versions.reserve_new(
                collection,
                prepared.name,
                prepared.content_hash,
                prepared.parsed.media_type,
                prepared.size,
            )
            return reserved, 1
        held = await self._versions.reserve_update(existing.id, stale_before)
        if held is None:
            raise busy
        return held

    async def _undo(self, document_id: uuid.UUID, version: int) -> bool:
        """Undo a failed ingest; False when its version was published after all."""
        try:
            return await self._versions.abandon(document_id, version)
        except Exception:
            # Unpublished chunks are never served; the next ingest of the file clears them.
            logger.exception("Could not remove the chunks of a failed ingest")
            return False

    async def _forget_vectors(self, collection: str, ids: list[uuid.UUID]) -> None:
        if self._vectors is None:
            return
        try:
            await asyncio.to_thread(self._vectors.delete_chunks, collection, ids)
        except Exception:
            # Searches load chunks from the database, so a leftover vector is never cited.
            logger.warning("Could not remove %d vectors from Qdrant", len(ids), exc_info=True)

    # -- browsing ------------------------------------------------------------------------------

    async def list_documents(
        self, collection: str | None, limit: int, offset: int
    ) -> Page[DocumentRow]:
        """A page of documents, by collection and name."""
        if collection is not None:
            check_collection_name(collection)
        _check_window(limit, offset)
        return await self._documents.list_documents(collection, limit, offset)

    async def get(
        self, document_id: uuid.UUID, chunk_id: uuid.UUID | None = None, radius: int = 1
    ) -> DocumentInContext:
        """A document; with `chunk_id`, that chunk and `radius` neighbours on each side."""
        if not 0 <= radius <= MAX_CONTEXT_RADIUS:
            raise InvalidInput(
                f"context must be between 0 and {MAX_CONTEXT_RADIUS}.", field_name="context"
            )
        document = await self._documents.get(document_id)
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

    async def list_collections(self) -> list[CollectionRow]:
        """Every collection and how much it holds."""
        return await self._collections.list_collections()

    async def document_count(self) -> int:
        """How many documents searches can find, in every collection."""
        return await self._collections.document_count()

    async def find(self, collection: str, name: str) -> DocumentRow:
        """A document by its name in a collection."""
        check_collection_name(collection)
        document = await self._documents.find_by_name(collection, document_name(name))
        if document is None:
            raise NotFound(f"Collection {collection!r} has no document named {name!r}.")
        return document

    # -- deleting and re-embedding -------------------------------------------------------------

    async def delete(self, document_id: uuid.UUID) -> DocumentRow:
        """Delete a document; answers stop citing it at once."""
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


def _busy(name: str, collection: str) -> Conflict:
    return Conflict(
        f"{name} is being ingested into collection {collection!r} by another request; "
        "try again when it is done."
    )


def _check_window(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}.", field_name="limit")
    if offset < 0:
        raise InvalidInput("offset must not be negative.", field_name="offset")


def _live_chunks(
    document: DocumentRow, collection: str, prepared: _Prepared, ids: list[uuid.UUID]
) -> list[LiveChunk]:
    return [
        LiveChunk(
            id=chunk_id,
            text=draft.text,
            page=draft.page,
            heading=draft.heading,
            document_id=document.id,
            document_name=prepared.name,
            title=prepared.parsed.title,
            collection=collection,
        )
        for chunk_id, draft in zip(ids, prepared.chunks, strict=True)
    ]

"""The ingest service: files into a collection, all or nothing.

Every file of an upload is read and chunked before anything is stored, each file's chunks are
written as a new version that searches cannot see, and one transaction publishes the versions
of all the files (replacing the previous ones). A failure at any step removes what the attempt
wrote, for every file of the upload.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

import anyio

from app.core.chunks import LiveChunk
from app.core.clock import Clock
from app.core.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from app.core.names import check_collection_name, document_name
from app.core.principals import Principal
from app.core.settings import IngestionSettings
from app.knowledge.collections import CollectionCatalog
from app.knowledge.documents import DocumentLookup
from app.knowledge.rows import DocumentRow, DocumentStatus, NewVersion, Publication
from app.knowledge.versions import DocumentVersions
from app.services.ports import FileParser, VectorStore

if TYPE_CHECKING:
    from app.ingestion.parser import ParsedFile

logger = logging.getLogger(__name__)

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


@dataclass
class _Staged:
    """A file's new version, written but not yet live."""

    file: ParsedFile
    document: DocumentRow
    version: int
    added: bool
    chunk_ids: list[uuid.UUID] = field(default_factory=list)
    embedded: bool = False

    @property
    def publication(self) -> Publication:
        details = NewVersion(
            title=self.file.title,
            media_type=self.file.media_type,
            content_hash=self.file.content_hash,
            size_bytes=self.file.size_bytes,
            chunk_count=len(self.file.chunks),
            page_count=self.file.page_count,
        )
        return Publication(self.document.id, self.file.name, self.version, details)

    def live_chunks(self, collection: str) -> list[LiveChunk]:
        """The written chunks as searches will serve them, for the vector index."""
        return [
            LiveChunk(
                id=chunk_id,
                text=draft.text,
                page=draft.page,
                heading=draft.heading,
                document_id=self.document.id,
                document_name=self.file.name,
                title=self.file.title,
                collection=collection,
            )
            for chunk_id, draft in zip(self.chunk_ids, self.file.chunks, strict=True)
        ]


@dataclass(frozen=True)
class _CopyOf:
    """A new file whose bytes are those of another new file in the same upload."""

    original: _Staged


class IngestService:
    """Ingests files into the knowledge base: added, updated or unchanged."""

    def __init__(
        self,
        *,
        documents: DocumentLookup,
        collections: CollectionCatalog,
        versions: DocumentVersions,
        parser: FileParser,
        vectors: VectorStore | None,
        settings: IngestionSettings,
        clock: Clock,
    ) -> None:
        self._documents = documents
        self._collections = collections
        self._versions = versions
        self._parser = parser
        self._vectors = vectors
        self._settings = settings
        self._clock = clock

    async def ingest(
        self, files: list[IncomingFile], collection: str, principal: Principal
    ) -> list[Ingested]:
        """Ingest files into a collection, all or nothing: every file is read and checked before
        any is stored, and their new versions go live in one transaction.

        A new collection belongs to `principal`; another principal's collection is not found
        (404) unless `principal` is an admin. Documents belong to their collection's owner."""
        check_collection_name(collection)
        if not files:
            raise InvalidInput("Send at least one file.", field_name="files")
        owner = await self._owner_for(collection, principal)
        names = [document_name(file.name) for file in files]
        if len(set(names)) != len(names):
            raise InvalidInput("Two of the files have the same name.", field_name="files")
        parsed = [await self._parse(file, name) for file, name in zip(files, names, strict=True)]
        # Asked again: another principal may have created the collection while files were read.
        if await self._owner_for(collection, principal) != owner:
            raise _not_yours(collection)
        staged: list[_Staged] = []
        plan: list[Ingested | _Staged | _CopyOf] = []
        try:
            for file in parsed:
                plan.append(await self._stage(file, collection, owner, staged))
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

    async def _owner_for(self, collection: str, principal: Principal) -> str:
        owner = await self._collections.owner_of(collection) or principal.id
        if not principal.may_see(owner):
            raise _not_yours(collection)
        return owner

    async def ingest_one(
        self, file: IncomingFile, collection: str, principal: Principal
    ) -> Ingested:
        """Ingest one file (the command line's unit of progress)."""
        [result] = await self.ingest([file], collection, principal)
        return result

    async def _parse(self, file: IncomingFile, name: str) -> ParsedFile:
        self._parser.media_type_of(name)  # an unsupported type is refused before it is read
        if file.size > self._settings.max_file_bytes:
            raise PayloadTooLarge(
                f"{name}: the file is {file.size} bytes; the limit is "
                f"{self._settings.max_file_bytes} (CITESTREAM_INGESTION__MAX_FILE_BYTES)."
            )
        # Reading a spooled upload or a local file blocks: off the loop. Parsing runs in a
        # process of its own, killed if this request is cancelled (its client left).
        data = await asyncio.to_thread(file.read)
        return await self._parser.parse(name, data)

    async def _stage(
        self, file: ParsedFile, collection: str, owner: str, staged: list[_Staged]
    ) -> Ingested | _Staged | _CopyOf:
        """Write a file's new version where searches cannot see it yet (appended to `staged`
        as soon as there is something to undo), or find that nothing changed."""
        existing = await self._documents.find_by_name(collection, file.name)
        if existing is None:
            # A new name: the same bytes already here are that document, not a copy.
            same_content = await self._documents.find_by_hash(collection, file.content_hash)
            if same_content is not None and same_content.status != DocumentStatus.INDEXING:
                return Ingested(IngestOutcome.UNCHANGED, same_content)
            for earlier in staged:  # ...or a file earlier in this same upload
                if earlier.added and earlier.file.content_hash == file.content_hash:
                    return _CopyOf(earlier)
        elif existing.content_hash == file.content_hash and existing.status == DocumentStatus.READY:
            return Ingested(IngestOutcome.UNCHANGED, existing)
        # Otherwise a hold by another ingest (even one bringing these same bytes back while it
        # replaces them) is a 409 from _reserve: answering "unchanged" would lose this upload.
        document, version = await self._reserve(file, collection, owner, existing)
        stage = _Staged(file, document, version, added=version == 1)
        staged.append(stage)
        stage.chunk_ids = await self._versions.add_chunks(document.id, version, file.chunks)
        if self._vectors is not None:
            await asyncio.to_thread(self._vectors.add, stage.live_chunks(collection))
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
            raise Conflict(f"{stage.file.name} was deleted just after it was ingested.")
        if isinstance(step, _CopyOf):
            outcome = IngestOutcome.UNCHANGED
        else:
            outcome = IngestOutcome.ADDED if step.added else IngestOutcome.UPDATED
        return Ingested(outcome, stored)

    async def _reserve(
        self, file: ParsedFile, collection: str, owner: str, existing: DocumentRow | None
    ) -> tuple[DocumentRow, int]:
        """Hold the document's name for this ingest: a new document (version 1) or a new
        version of the existing one."""
        stale_before = self._clock.now() - INGEST_LEASE
        busy = Conflict(
            f"{file.name} is being ingested into collection {collection!r} by another request; "
            "try again when it is done."
        )
        if existing is not None and existing.status == DocumentStatus.INDEXING:
            # Its first ingest is under way, or died part-way: taken over once its lease ran out.
            if not await self._versions.take_over_stale(existing.id, stale_before):
                raise busy
            existing = None
        if existing is None:
            reserved = await self._versions.reserve_new(
                collection,
                file.name,
                file.content_hash,
                file.media_type,
                file.size_bytes,
                owner,
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


def _not_yours(collection: str) -> NotFound:
    return NotFound(
        f"There is no collection {collection!r} for you to add to; choose another name."
    )

"""Filling a knowledge base: the way `citestream ingest` does, from synchronous test code, or
version by version through the knowledge base's own classes, on a clock the test moves."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dependency_injector import providers

from app.cli.local_files import ingest_paths
from app.container import Container
from app.core.chunks import ChunkDraft
from app.core.clock import ManualClock
from app.core.database import Database
from app.core.migrations import upgrade_to_head
from app.core.names import DEFAULT_COLLECTION
from app.core.settings import DatabaseSettings, Settings
from app.knowledge.chunks import ChunkLookup
from app.knowledge.collections import CollectionCatalog
from app.knowledge.documents import DocumentLookup
from app.knowledge.rows import NewVersion
from app.knowledge.versions import DocumentVersions
from app.lifecycle import running_container
from app.services.ingest import Ingested


async def _ingest(settings: Settings, paths: list[Path], collection: str) -> list[Ingested]:
    # Migrated whatever the database, as a deployment step would.
    migrating = settings.model_copy(deep=True)
    migrating.database.auto_migrate = True
    async with running_container(migrating) as container:
        return await ingest_paths(container, paths, collection)


def ingest_paths_now(
    settings: Settings, paths: list[Path], collection: str = DEFAULT_COLLECTION
) -> list[Ingested]:
    """Ingest from code that may be inside a running event loop (on a loop of its own)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _ingest(settings, paths, collection)).result()


def on_a_manual_clock(container: Container) -> ManualClock:
    """Put a container on a clock the test moves, starting now. Call it before the container
    builds anything that reads the clock (its services are built on first use)."""
    clock = ManualClock(datetime.now(UTC))
    container.clock.override(providers.Object(clock))
    return clock


def drafts(*texts: str, page: int | None = None) -> list[ChunkDraft]:
    """One chunk per text, in order, under the heading 'Guide > Setup'."""
    return [ChunkDraft(seq, text, page, "Guide > Setup") for seq, text in enumerate(texts)]


def details(content_hash: str, chunks: int) -> NewVersion:
    """A Markdown file titled 'Guide' with this content hash and number of chunks."""
    return NewVersion("Guide", "text/markdown", content_hash, 100, chunks, None)


@dataclass(frozen=True)
class KnowledgeBase:
    """The knowledge base's classes over one database, on a clock the test moves."""

    clock: ManualClock
    collections: CollectionCatalog
    documents: DocumentLookup
    versions: DocumentVersions
    chunks: ChunkLookup

    @classmethod
    def over(cls, database: Database) -> KnowledgeBase:
        clock = ManualClock()
        return cls(
            clock=clock,
            collections=CollectionCatalog(database),
            documents=DocumentLookup(database),
            versions=DocumentVersions(database, clock),
            chunks=ChunkLookup(database),
        )

    async def publish_new(
        self, collection: str, name: str, content_hash: str, *texts: str
    ) -> tuple[uuid.UUID, list[uuid.UUID]]:
        """A new document with one chunk per text, published as version 1."""
        document = await self.versions.reserve_new(
            collection, name, content_hash, "text/markdown", 100
        )
        ids = await self.versions.add_chunks(document.id, 1, drafts(*texts))
        assert await self.versions.publish(document.id, 1, details(content_hash, len(texts))) == []
        return document.id, ids


@asynccontextmanager
async def knowledge_base(database_url: str) -> AsyncIterator[KnowledgeBase]:
    """The knowledge base's classes over a database brought to the current schema."""
    await asyncio.to_thread(upgrade_to_head, database_url)
    database = Database(DatabaseSettings(url=database_url))
    try:
        yield KnowledgeBase.over(database)
    finally:
        await database.aclose()

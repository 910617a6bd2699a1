"""The app's objects outside the HTTP server: for the command line, benchmarks and tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from app.container import Container
from app.core.names import DEFAULT_COLLECTION
from app.core.settings import Settings
from app.ingestion.paths import expand
from app.lifecycle import open_storage, release
from app.retrieval.search import KnowledgeSearch, RetrievalMode
from app.services.ingest import IncomingFile, Ingested


@asynccontextmanager
async def running_container(settings: Settings) -> AsyncIterator[Container]:
    """A container on a current schema (migrated first where the settings allow), released
    afterwards: the database pool, embedded Qdrant's folder lock, lexical rebuilds."""
    container = Container(settings=settings)
    try:
        await open_storage(container)
        yield container
    finally:
        await release(container)


def incoming(path: Path, name: str) -> IncomingFile:
    """A local file, to be ingested under `name`."""
    return IncomingFile(name, path.stat().st_size, path.read_bytes)


async def ingest_paths(
    container: Container, paths: list[Path], collection: str = DEFAULT_COLLECTION
) -> list[Ingested]:
    """Ingest files and folders as `citestream ingest` finds them; the first failure raises."""
    service = container.ingest_service()
    return [
        await service.ingest_one(incoming(found.path, found.name), collection)
        for found in expand([str(path) for path in paths]).files
    ]


def search_in_mode(container: Container, mode: RetrievalMode) -> KnowledgeSearch:
    """A KnowledgeSearch over the container's indexes in `mode`, whatever the settings say
    (to compare modes on one knowledge base)."""
    return KnowledgeSearch(
        chunks=container.chunk_lookup(),
        lexical=container.lexical_index(),
        dense=container.vector_index(),
        settings=container.settings().retrieval,
        mode=mode,
        llm=container.llm(),
    )

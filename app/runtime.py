"""The app's objects outside the HTTP server: for the command line, benchmarks and tests."""

from __future__ import annotations

from pathlib import Path

from app.container import Container
from app.core.names import DEFAULT_COLLECTION
from app.ingestion.paths import expand
from app.lifecycle import running_container
from app.retrieval.search import KnowledgeSearch, RetrievalMode
from app.services.ingest import IncomingFile, Ingested

__all__ = ["incoming", "ingest_paths", "running_container", "search_in_mode"]


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

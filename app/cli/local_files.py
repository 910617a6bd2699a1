"""Files on this machine, ingested the way `citestream ingest` does (also for tests and
benchmarks)."""

from __future__ import annotations

from pathlib import Path

from app.container import Container
from app.core.names import DEFAULT_COLLECTION
from app.core.principals import LOCAL_PRINCIPAL, Principal
from app.ingestion.paths import expand
from app.services.ingest import IncomingFile, Ingested


def incoming(path: Path, name: str) -> IncomingFile:
    """A local file, to be ingested under `name`."""
    return IncomingFile(name, path.stat().st_size, path.read_bytes)


async def ingest_paths(
    container: Container,
    paths: list[Path],
    collection: str = DEFAULT_COLLECTION,
    owner: Principal = LOCAL_PRINCIPAL,
) -> list[Ingested]:
    """Ingest files and folders as `citestream ingest` finds them; the first failure raises."""
    service = container.ingest_service()
    return [
        await service.ingest_one(incoming(found.path, found.name), collection, owner)
        for found in expand([str(path) for path in paths]).files
    ]

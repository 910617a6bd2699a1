"""Filling a knowledge base the way `citestream ingest` does, from synchronous test code."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from app.core.names import DEFAULT_COLLECTION
from app.core.settings import Settings
from app.runtime import ingest_paths, running_container
from app.services.documents import Ingested


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

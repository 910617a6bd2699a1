"""Opening the storage a container needs and releasing everything it opened: one sequence for
the server's lifespan and for the command line, benchmarks and tests (`running_container`)."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable

from app.container import Container
from app.core.migrations import ensure_schema_is_current, upgrade_to_head
from app.llms.base import AsyncStreamingLLM

logger = logging.getLogger(__name__)


async def open_storage(container: Container) -> None:
    """Create the data folder and bring the database schema to head (where the settings allow),
    then refuse to go on with a schema that is not current."""
    settings = container.settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.auto_migrate:
        # Alembic runs its own event loop: keep it in a worker thread.
        await asyncio.to_thread(upgrade_to_head, settings.database.url)
    await ensure_schema_is_current(container.database().engine)


async def release(container: Container) -> None:
    """Close what the container opened: the model client, the lexical rebuilds, the window
    cache, the database pool and embedded Qdrant's folder lock. Each is released even if
    another fails to close."""

    async def close_llm() -> None:
        llm = container.llm()
        if isinstance(llm, AsyncStreamingLLM):
            await llm.aclose()

    closers: list[Callable[[], Awaitable[object]]] = [
        close_llm,
        container.lexical_index().aclose,
        container.window_cache().aclose,
        container.database().dispose,
    ]
    vectors = container.vector_index()
    if vectors is not None:
        closers.append(functools.partial(asyncio.to_thread, vectors.close))
    for close in closers:
        try:
            await close()
        except Exception:
            logger.exception("Could not close %s", close)

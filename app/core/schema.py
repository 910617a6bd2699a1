"""Whether the database's schema is the one this code needs, answered with one query.

The server starts before Alembic is even imported: when the schema is at `SCHEMA_REVISION`,
nothing more is done. Only a schema that is behind (or unknown) brings in Alembic, to upgrade
it where the settings allow or to explain what is wrong.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

# The newest migration in alembic/versions (a test checks that they agree).
SCHEMA_REVISION = "0004"


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database's schema is at; None for an empty database."""
    async with engine.connect() as connection:
        try:
            value = await connection.scalar(text("SELECT version_num FROM alembic_version"))
        except DBAPIError:  # no alembic_version table: nothing was ever migrated
            return None
    return None if value is None else str(value)


async def ensure_schema(engine: AsyncEngine, database_url: str, *, auto_migrate: bool) -> None:
    """Return when the schema is current; upgrade it first if allowed; else raise why not."""
    if await current_revision(engine) == SCHEMA_REVISION:
        return
    from app.core.migrations import ensure_schema_is_current, upgrade_to_head

    if auto_migrate:
        # Alembic runs its own event loop: keep it in a worker thread.
        await asyncio.to_thread(upgrade_to_head, database_url)
    await ensure_schema_is_current(engine)

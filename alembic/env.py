"""Alembic environment: runs migrations over Citestream's async engine (SQLite or PostgreSQL)."""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import app.identity.models  # registers the API keys table
import app.knowledge.models  # noqa: F401 - registers the knowledge tables
from alembic import context
from app.core.database import Base
from app.core.settings import Settings

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    # `citestream db upgrade` passes the URL in; a bare `alembic` call reads the settings.
    url = config.attributes.get("database_url")
    return str(url) if url else Settings().database.url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_database_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())

"""The schema comes from Alembic, both ways, on SQLite and PostgreSQL; a stale schema is refused."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import (
    DateTime,
    Integer,
    String,
    Uuid,
    column,
    insert,
    inspect,
    table,
    text,
)
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.sql.expression import ColumnClause

from app.core.errors import CitestreamError
from app.core.migrations import (
    SchemaOutOfDate,
    alembic_config,
    downgrade_to_base,
    ensure_schema_is_current,
    head_revision,
    upgrade_to_head,
)
from app.core.schema import SCHEMA_REVISION
from app.main import create_app
from tests.conftest import MakeSettings

TABLES = {"chat_sessions", "chat_messages", "collections", "documents", "chunks", "api_keys"}


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    await engine.dispose()
    return names - {"alembic_version"}


async def _upgrade_downgrade_upgrade(url: str) -> None:
    await asyncio.to_thread(upgrade_to_head, url)
    assert await _tables(url) == TABLES
    await asyncio.to_thread(downgrade_to_base, url)
    assert await _tables(url) == set()
    await asyncio.to_thread(upgrade_to_head, url)
    assert await _tables(url) == TABLES
    engine = create_async_engine(url)
    await ensure_schema_is_current(engine)  # at head: no complaint
    await engine.dispose()


async def test_sqlite_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    await _upgrade_downgrade_upgrade(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")


async def test_postgresql_upgrade_downgrade_upgrade(postgres_url: str) -> None:
    await _upgrade_downgrade_upgrade(postgres_url)


async def test_server_refuses_a_postgresql_schema_that_is_behind(
    make_settings: MakeSettings, postgres_url: str
) -> None:
    from alembic import command

    await asyncio.to_thread(command.upgrade, alembic_config(postgres_url), "0001")
    settings = make_settings()
    settings.database.url = postgres_url
    app = create_app(settings)
    with pytest.raises(SchemaOutOfDate, match="citestream db upgrade"):
        async with app.router.lifespan_context(app):
            pass


async def test_server_refuses_a_schema_newer_than_the_code(make_settings: MakeSettings) -> None:
    settings = make_settings()
    await asyncio.to_thread(upgrade_to_head, settings.database.url)
    engine = create_async_engine(settings.database.url)
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    await engine.dispose()
    settings.database.auto_migrate = False
    app = create_app(settings)
    with pytest.raises(CitestreamError, match="does not know"):
        async with app.router.lifespan_context(app):
            pass


def test_the_code_names_the_newest_migration_as_its_schema() -> None:
    # The server checks the schema against this constant without loading Alembic.
    assert head_revision("sqlite+aiosqlite://") == SCHEMA_REVISION


async def test_what_existed_before_identity_belongs_to_the_local_user(database_url: str) -> None:
    from alembic import command

    now = datetime(2026, 1, 1, tzinfo=UTC)

    def stamps() -> tuple[ColumnClause[datetime], ...]:
        return column("created_at", DateTime(True)), column("updated_at", DateTime(True))

    sessions = table("chat_sessions", column("id", Uuid), *stamps())
    collections = table(
        "collections", column("name", String), column("generation", Integer), *stamps()
    )
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), "0003")
    engine = create_async_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(
            insert(sessions).values(id=uuid.uuid4(), created_at=now, updated_at=now)
        )
        await connection.execute(
            insert(collections).values(name="old", generation=0, created_at=now, updated_at=now)
        )
    await asyncio.to_thread(upgrade_to_head, database_url)
    async with engine.connect() as connection:
        owners = await connection.execute(
            text(
                "SELECT principal_id FROM chat_sessions UNION ALL SELECT owner_id FROM collections"
            )
        )
        assert [row[0] for row in owners] == ["local", "local"]
    await engine.dispose()

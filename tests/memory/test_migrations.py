"""The schema comes from Alembic, both ways."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from app.memory.migrations import downgrade_to_base, upgrade_to_head


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    await engine.dispose()
    return names - {"alembic_version"}


async def test_sqlite_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    assert await _tables(url) == {"chat_sessions", "chat_messages"}
    await asyncio.to_thread(downgrade_to_base, url)
    assert await _tables(url) == set()
    await asyncio.to_thread(upgrade_to_head, url)
    assert await _tables(url) == {"chat_sessions", "chat_messages"}

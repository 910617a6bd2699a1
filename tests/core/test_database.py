"""The engine: on SQLite writers queue for the write lock and readers never wait for them;
the pool is sized by the settings."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.pool import QueuePool

from app.core.database import Database
from app.core.settings import DatabaseSettings, Settings


async def test_a_reader_does_not_wait_for_a_writer_and_writers_queue(tmp_path: Path) -> None:
    database = Database(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"))
    try:
        async with database.session() as db:
            await db.execute(text("CREATE TABLE counter (n INTEGER)"))
            await db.execute(text("INSERT INTO counter VALUES (0)"))
        released = asyncio.Event()

        async def slow_writer() -> None:
            async with database.session() as db:
                await db.execute(text("UPDATE counter SET n = n + 1"))
                await released.wait()

        async def writer() -> None:
            # Reads, then writes: the pattern that deadlocks unless the write lock is taken
            # at BEGIN.
            async with database.session() as db:
                value = (await db.execute(text("SELECT n FROM counter"))).scalar_one()
                await db.execute(text("UPDATE counter SET n = :n"), {"n": value + 1})

        holding = asyncio.create_task(slow_writer())
        await asyncio.sleep(0.2)
        async with asyncio.timeout(10), database.reading() as db:
            # The reader sees the last committed state at once, beside the open write.
            assert (await db.execute(text("SELECT n FROM counter"))).scalar_one() == 0
        queued = [asyncio.create_task(writer()) for _ in range(5)]
        await asyncio.sleep(0.2)
        assert not any(task.done() for task in queued)  # waiting for the write lock
        released.set()
        await asyncio.gather(holding, *queued)
        async with database.reading() as db:
            assert (await db.execute(text("SELECT n FROM counter"))).scalar_one() == 6
    finally:
        await database.aclose()


async def test_the_pool_settings_reach_the_engine(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "URL": database_url,
        "POOL_SIZE": "3",
        "MAX_OVERFLOW": "4",
        "POOL_TIMEOUT_S": "1.5",
        "POOL_RECYCLE_S": "600",
    }.items():
        monkeypatch.setenv(f"CITESTREAM_DATABASE__{name}", value)
    database = Database(Settings(_env_file=None).database)
    try:
        pool = database.engine.pool
        assert isinstance(pool, QueuePool)
        assert pool.size() == 3
        assert pool.overflow() == -3  # SQLAlchemy counts overflow from -pool_size
        assert pool.timeout() == 1.5
        assert pool._recycle == 600
        async with database.reading() as db:
            assert (await db.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await database.aclose()


async def test_an_in_memory_sqlite_database_keeps_its_single_connection() -> None:
    # Its pool takes no sizes: they are left out rather than refused at start-up.
    database = Database(DatabaseSettings(url="sqlite+aiosqlite://", pool_size=3))
    try:
        assert not isinstance(database.engine.pool, QueuePool)
        async with database.reading() as db:
            assert (await db.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await database.aclose()

"""The SQLite engine: writers queue for the write lock, readers never wait for them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from app.core.database import Database
from app.core.settings import DatabaseSettings


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

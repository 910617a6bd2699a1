"""SQLite through one trip per statement: the engine behaves as with plain aiosqlite (rows, row
counts, transactions, the write lock, errors) while each statement wakes the connection's
thread once."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import CursorResult, text
from sqlalchemy.exc import OperationalError

from app.core.database import Database
from app.core.settings import DatabaseSettings
from app.core.sqlite_driver import OneTripConnection


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"))
    async with database.session() as db:
        await db.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    yield database
    await database.aclose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the calls sent to connections' threads, in order."""
    sent: list[str] = []
    send = OneTripConnection._execute

    async def counted(
        self: OneTripConnection, fn: object, *args: object, **kwargs: object
    ) -> object:
        sent.append(getattr(fn, "__name__", repr(fn)))
        return await send(self, fn, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(OneTripConnection, "_execute", counted)
    return sent


async def test_a_write_transaction_is_one_trip_per_statement_and_one_to_commit(
    database: Database, trips: list[str]
) -> None:
    async with database.session() as db:
        await db.execute(text("INSERT INTO notes (body) VALUES ('a')"))
        await db.execute(
            text("INSERT INTO notes (body) VALUES (:body)"), [{"body": "b"}, {"body": "c"}]
        )
    # BEGIN IMMEDIATE went with the first INSERT; the pool's rollback after the commit had
    # nothing to do and was not sent.
    assert trips == ["run", "run", "commit"]
    trips.clear()
    async with database.reading() as db:
        rows = (await db.execute(text("SELECT body FROM notes ORDER BY id"))).scalars().all()
    assert rows == ["a", "b", "c"]
    assert trips == ["run", "commit"]


async def test_row_counts_and_inserted_ids_are_those_of_the_statement(database: Database) -> None:
    async with database.session() as db:
        inserted = await db.execute(text("INSERT INTO notes (body) VALUES ('x')"))
        assert isinstance(inserted, CursorResult)
        assert inserted.lastrowid == 1
        await db.execute(text("INSERT INTO notes (body) VALUES ('y')"))
        updated = await db.execute(text("UPDATE notes SET body = 'z'"))
        assert isinstance(updated, CursorResult)
        assert updated.rowcount == 2
        none = await db.execute(text("UPDATE notes SET body = 'w' WHERE id = 99"))
        assert isinstance(none, CursorResult)
        assert none.rowcount == 0


async def test_a_failed_transaction_leaves_nothing_and_the_connection_works_on(
    database: Database,
) -> None:
    async def insert_then_fail() -> None:
        async with database.session() as db:
            await db.execute(text("INSERT INTO notes (body) VALUES ('lost')"))
            await db.execute(text("INSERT INTO missing VALUES (1)"))

    with pytest.raises(OperationalError, match="no such table"):
        await insert_then_fail()
    async with database.session() as db:
        await db.execute(text("INSERT INTO notes (body) VALUES ('kept')"))
    async with database.reading() as db:
        assert (await db.execute(text("SELECT body FROM notes"))).scalars().all() == ["kept"]


async def test_a_writing_session_holds_the_write_lock_from_its_first_statement(
    database: Database, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "db.sqlite", timeout=0, isolation_level=None)
    try:
        async with database.session() as db:
            await db.execute(text("SELECT count(*) FROM notes"))  # a read, under BEGIN IMMEDIATE
            # Another process cannot write now, as with BEGIN IMMEDIATE sent on its own.
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("INSERT INTO notes (body) VALUES ('other')")
        other.execute("INSERT INTO notes (body) VALUES ('other')")  # free after the commit
    finally:
        other.close()


async def test_a_reading_session_sees_one_snapshot(database: Database, tmp_path: Path) -> None:
    other = sqlite3.connect(tmp_path / "db.sqlite", isolation_level=None)
    try:
        async with database.reading() as db:
            first = (await db.execute(text("SELECT count(*) FROM notes"))).scalar_one()
            other.execute("INSERT INTO notes (body) VALUES ('meanwhile')")
            second = (await db.execute(text("SELECT count(*) FROM notes"))).scalar_one()
        assert first == second == 0
        async with database.reading() as db:
            assert (await db.execute(text("SELECT count(*) FROM notes"))).scalar_one() == 1
    finally:
        other.close()

"""aiosqlite with one trip to its thread per statement, for SQLAlchemy's async SQLite dialect.

aiosqlite runs each connection in a thread of its own and sends every call there and back:
SQLAlchemy's adapter makes four such trips per statement (open a cursor, execute, fetch, close)
and two more per transaction (a commit, then the pool's rollback when the connection returns),
about 35 per answer. Each trip wakes the thread, then the event loop, and waits for the loop's
next turn: under load a writer holds SQLite's write lock across one turn of the loop per trip.

Here a statement is one trip: it runs, its rows are fetched and its cursor closed in the thread,
and the cursor the caller holds only hands those rows back. A transaction's BEGIN travels with
its first statement, and a commit or rollback with no transaction open (the pool's reset after
a commit) makes no trip, exactly as sqlite3 itself would do nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy.engine import URL, make_url

_T = TypeVar("_T")
_Description = tuple[tuple[Any, ...], ...] | None
_BEGINS = frozenset({"BEGIN", "BEGIN DEFERRED", "BEGIN IMMEDIATE", "BEGIN EXCLUSIVE"})


class OneTripConnection(aiosqlite.Connection):
    """An aiosqlite connection whose cursors make one trip to its thread per statement."""

    def __init__(self, connector: Callable[[], sqlite3.Connection], iter_chunk_size: int) -> None:
        super().__init__(connector, iter_chunk_size)
        # Read back after every call in the thread (the caller awaits that call, so it sees
        # the value the thread wrote). A BEGIN waiting for the next statement is not open yet.
        self._in_transaction = False
        self._pending_begin: str | None = None

    def cursor(self) -> OneTripCursor:  # type: ignore[override]
        # No trip: the sqlite3 cursor is made where the statement runs.
        return OneTripCursor(self)

    async def _execute(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        connection = self._conn

        def call_and_note_transaction() -> _T:
            try:
                return fn(*args, **kwargs)
            finally:
                try:
                    self._in_transaction = connection.in_transaction
                except sqlite3.ProgrammingError:  # closed: nothing left to commit or roll back
                    self._in_transaction = False

        result: _T = await super()._execute(call_and_note_transaction)  # type: ignore[no-untyped-call]
        return result

    async def statement(
        self, sql: str, parameters: Any, *, many: bool
    ) -> tuple[_Description, int, int | None, list[Any]]:
        """Run one statement (or one per parameter set) and read its rows, in one trip."""
        if not many and sql.upper() in _BEGINS:
            # Sent with the statement that follows: a transaction's first statement waits for
            # the write lock of BEGIN IMMEDIATE just as BEGIN itself would have.
            self._pending_begin = sql
            return None, -1, None, []
        begin, self._pending_begin = self._pending_begin, None
        connection = self._conn

        def run() -> tuple[_Description, int, int | None, list[Any]]:
            if begin is not None:
                connection.execute(begin)
            cursor = connection.cursor()
            try:
                if many:
                    cursor.executemany(sql, parameters)
                else:
                    cursor.execute(sql, parameters)
                rows = cursor.fetchall() if cursor.description else []
                return cursor.description, cursor.rowcount, cursor.lastrowid, rows
            finally:
                cursor.close()

        return await self._execute(run)

    async def commit(self) -> None:
        self._pending_begin = None
        if self._in_transaction:
            await super().commit()

    async def rollback(self) -> None:
        self._pending_begin = None
        if self._in_transaction:
            await super().rollback()


class OneTripCursor:
    """The part of aiosqlite's cursor that SQLAlchemy's adapter uses; rows arrive with the
    statement, so fetching and closing make no trip."""

    arraysize = 1

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection
        self.description: _Description = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def __aenter__(self) -> OneTripCursor:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> OneTripCursor:
        (
            self.description,
            self.rowcount,
            self.lastrowid,
            self._rows,
        ) = await self._connection.statement(
            sql, () if parameters is None else parameters, many=False
        )
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> OneTripCursor:
        (
            self.description,
            self.rowcount,
            self.lastrowid,
            self._rows,
        ) = await self._connection.statement(sql, parameters, many=True)
        return self

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def close(self) -> None:
        self._rows = []


def one_trip_connector(url: str | URL) -> Callable[[], OneTripConnection]:
    """An `async_creator` for `create_async_engine`: connects as the aiosqlite dialect would for
    `url` (file name, `?mode=`, `uri=true`, timeouts), with a `OneTripConnection`."""
    parsed = make_url(url)
    dialect = parsed.get_dialect()()
    arguments, options = dialect.create_connect_args(parsed)
    (database,) = arguments

    def connect() -> OneTripConnection:
        connection = OneTripConnection(lambda: sqlite3.connect(database, **options), 64)
        connection._thread.daemon = True  # as SQLAlchemy's dialect does: exit never waits on it
        return connection

    return connect

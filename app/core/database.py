"""The relational database: one async engine per process, its sessions, the declarative base."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import QueuePool

from app.core.errors import StorageBusy
from app.core.settings import DatabaseSettings
from app.core.sqlite_driver import one_trip_connector

logger = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A stored timestamp with its zone: SQLite hands them back without, and all are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_READ_ONLY = "citestream_read_only"


class Base(DeclarativeBase):
    """Every table Citestream stores: conversations and the knowledge base."""


def table_of(model: type[Base]) -> Table:
    """A mapped class's table, for Core statements on the hot paths: the ORM's statement
    handling (and, for whole objects, loading them) costs more than a turn's small reads and
    writes themselves."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _configure_sqlite(dbapi_connection: object, _record: object) -> None:
    # The driver's own transaction handling is off: `_begin_immediately` starts each one.
    dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    # SQLite ignores ON DELETE CASCADE unless every connection turns foreign keys on.
    cursor.execute("PRAGMA foreign_keys=ON")
    # Readers (deferred transactions) neither wait for the writer nor hold it up, so
    # `citestream ingest` can write while a server searches.
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL syncs at checkpoints rather than at every commit: a commit is as safe
    # as ever against a crash of the process (and the database never corrupts), and only the
    # last moments before a power cut can be lost. Every commit paying an fsync made an
    # answer's two writes the largest part of its time to first token.
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Writers queue for the write lock instead of failing at once with "database is locked".
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def _begin(connection: Connection) -> None:
    # A transaction that reads and then writes can deadlock with another doing the same (both
    # hold a read lock, both want the write lock) and SQLite answers one of them "database is
    # locked" without waiting. So a transaction that may write takes the write lock at BEGIN
    # and writers queue (they last milliseconds); a read-only one begins deferred and, in WAL
    # mode, runs beside them.
    if connection.get_execution_options().get(_READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """One engine per process; short sessions opened by the stores that need them."""

    def __init__(self, settings: DatabaseSettings) -> None:
        self.url = settings.url
        self.engine: AsyncEngine = create_async_engine(
            settings.url, echo=settings.echo, **_pool_options(settings), **_driver(settings.url)
        )
        if self.engine.dialect.name == "sqlite":
            sync_engine: Engine = self.engine.sync_engine
            event.listen(sync_engine, "connect", _configure_sqlite)
            event.listen(sync_engine, "begin", _begin)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        reading_engine = self.engine.execution_options(**{_READ_ONLY: True})
        self._reading_sessions = async_sessionmaker(reading_engine, expire_on_commit=False)
        # One statement needs no transaction around it: on PostgreSQL, autocommit saves the
        # BEGIN and COMMIT round trips. SQLite's read transaction is already free (its BEGIN
        # goes with the statement, see app.core.sqlite_driver).
        self._single_reads: AsyncEngine = (
            reading_engine
            if self.engine.dialect.name == "sqlite"
            else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        # SQLite has one write lock per database. Writers of this process queue for it here,
        # in order, instead of in SQLite's busy handler, which sleeps in steps of up to 100 ms
        # and turns a few hundred concurrent answers into seconds of waiting. (Other processes,
        # such as `citestream ingest`, still meet the busy timeout.)
        # (Other databases take concurrent writers as they come: no queue.)
        self._one_writer: AbstractAsyncContextManager[object] = (
            asyncio.Lock() if self.engine.dialect.name == "sqlite" else nullcontext()
        )

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits on success and rolls back on error. Keep it
        short and never open another writing session inside it. StorageBusy when no
        connection (or, on SQLite, no write lock) came free in time."""
        with _busy_as_storage_busy():
            async with self._one_writer, self._sessions() as session, session.begin():
                yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only: on SQLite it never waits for a writer. StorageBusy when
        no connection came free in time."""
        with _busy_as_storage_busy():
            async with self._reading_sessions() as session, session.begin():
                yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction that commits on success and rolls back on error, for
        stores whose statements are all Core (tables, not mapped classes): what `session`
        gives, without the ORM's session around each statement, which cost more than the
        statement on an answer's path. The same rules as `session`."""
        with _busy_as_storage_busy():
            async with self._one_writer, self.engine.begin() as connection:
                yield connection

    @asynccontextmanager
    async def read_once(self) -> AsyncIterator[AsyncConnection]:
        """A connection for one reading statement (Core): on PostgreSQL outside any
        transaction, on SQLite in a read transaction that never waits for a writer. A
        statement sees a consistent snapshot on its own; several need `reading`.
        StorageBusy when no connection came free in time."""
        with _busy_as_storage_busy():
            async with self._single_reads.connect() as connection:
                yield connection

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def _pool_options(settings: DatabaseSettings) -> dict[str, Any]:
    """The pool's sizes and timeouts, where the engine's pool has them.

    SQLAlchemy gives PostgreSQL and a SQLite file a queue pool (for SQLite it is cheap: each
    aiosqlite connection is one thread, and in WAL mode readers run side by side while this
    process's writers queue on `_one_writer` before they borrow a connection, so the sizes
    bound readers). An in-memory SQLite database gets a single shared connection instead,
    whose pool takes no sizes (and would refuse them).
    """
    url = make_url(settings.url)
    dialect = url.get_dialect()
    if not issubclass(dialect, DefaultDialect) or not issubclass(
        dialect.get_pool_class(url), QueuePool
    ):
        return {}
    options: dict[str, Any] = {
        "pool_size": settings.pool_size,
        "max_overflow": settings.max_overflow,
        "pool_timeout": settings.pool_timeout_s,
    }
    if settings.pool_recycle_s is not None:
        options["pool_recycle"] = settings.pool_recycle_s
    return options


def _driver(url: str) -> dict[str, Any]:
    """aiosqlite connections that make one trip to their thread per statement (see
    `app.core.sqlite_driver`); other drivers as SQLAlchemy makes them."""
    if make_url(url).get_driver_name() != "aiosqlite":
        return {}
    return {"async_creator": one_trip_connector(url)}


# PostgreSQL refusing a connection because it is full (too_many_connections: its
# max_connections, or a role's or a database's limit) or not taking any yet (cannot_connect_now:
# starting up or shutting down, as in a deploy): no room for us at this moment, like a pool
# that stayed empty. Both arrive as a DBAPIError carrying the SQLSTATE.
_BUSY_SQLSTATES = frozenset({"53300", "57P03"})


def _is_busy(error: BaseException) -> bool:
    """Whether the database only had no room for us: the pool stayed empty for its timeout,
    PostgreSQL had no connection slot free, or SQLite's write lock stayed taken for its busy
    timeout. Trying again later may work."""
    if isinstance(error, PoolTimeout):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if isinstance(error, OperationalError) and "database is locked" in str(error.orig):
        return True
    return getattr(error.orig, "sqlstate", None) in _BUSY_SQLSTATES


@contextmanager
def _busy_as_storage_busy() -> Iterator[None]:
    # Said once here, for every store: a request that could not get the database is told to
    # try again (503 storage_busy with Retry-After, or that code in its stream's error event),
    # never mistaken for the failure of whatever wanted the connection.
    try:
        yield
    except (PoolTimeout, DBAPIError) as error:
        if not _is_busy(error):
            raise
        logger.warning("The database is busy: %s", error)
        raise StorageBusy() from error

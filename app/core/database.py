"""The relational database: one async engine per process, its sessions, the declarative base."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from app.core.settings import DatabaseSettings


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A stored timestamp with its zone: SQLite hands them back without, and all are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_READ_ONLY = "citestream_read_only"


class Base(DeclarativeBase):
    """Every table Citestream stores: conversations and the knowledge base."""


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
        self.engine: AsyncEngine = create_async_engine(settings.url, echo=settings.echo)
        if self.engine.dialect.name == "sqlite":
            sync_engine: Engine = self.engine.sync_engine
            event.listen(sync_engine, "connect", _configure_sqlite)
            event.listen(sync_engine, "begin", _begin)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._reading_sessions = async_sessionmaker(
            self.engine.execution_options(**{_READ_ONLY: True}), expire_on_commit=False
        )
        # SQLite has one write lock per database. Writers of this process queue for it here,
        # in order, instead of in SQLite's busy handler, which sleeps in steps of up to 100 ms
        # and turns a few hundred concurrent answers into seconds of waiting. (Other processes,
        # such as `citestream ingest`, still meet the busy timeout.)
        self._one_writer = asyncio.Lock() if self.engine.dialect.name == "sqlite" else None

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits on success and rolls back on error. Keep it
        short and never open another writing session inside it."""
        if self._one_writer is None:
            async with self._sessions() as session, session.begin():
                yield session
            return
        async with self._one_writer, self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only: on SQLite it never waits for a writer."""
        async with self._reading_sessions() as session, session.begin():
            yield session

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()

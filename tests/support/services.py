"""Real PostgreSQL and Redis for tests: required under CI, skipped with a reason elsewhere."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import NamedTuple
from urllib.parse import urlsplit

import asyncpg
import pytest

POSTGRES_ADMIN_DSN = os.environ.get(
    "CITESTREAM_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("CITESTREAM_TEST_REDIS", "redis://127.0.0.1:6379/15")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip when the service is missing on a laptop; fail under CI, where it must be there."""
    if _reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI needs it")
    pytest.skip(f"{message} (start it to run this test)")


async def fresh_postgres_database() -> AsyncIterator[str]:
    """A new empty PostgreSQL database for one test; yields its SQLAlchemy URL, then drops it."""
    url = await create_postgres_database()
    try:
        yield url
    finally:
        await drop_postgres_database(url)


async def create_postgres_database() -> str:
    """A new empty PostgreSQL database; its SQLAlchemy URL. Drop it with the function below."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"citestream_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


async def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


class LimitedDatabase(NamedTuple):
    url: str  # SQLAlchemy's, as the limited role
    role_dsn: str  # asyncpg's, as the limited role
    admin_dsn: str  # asyncpg's, as the superuser, whom no connection limit applies to


@asynccontextmanager
async def postgres_database_of_a_limited_role(connections: int) -> AsyncIterator[LimitedDatabase]:
    """A new empty PostgreSQL database owned by a new role that may hold `connections` at once
    (superusers have no such limit); both are dropped afterwards."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"citestream_test_{uuid.uuid4().hex[:12]}"
    server = urlsplit(POSTGRES_ADMIN_DSN)
    role_dsn = server._replace(netloc=f"{name}@{server.netloc.rpartition('@')[2]}", path=f"/{name}")
    admin_dsn = server._replace(path=f"/{name}").geturl()
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE ROLE "{name}" LOGIN CONNECTION LIMIT {connections}')
        await admin.execute(f'CREATE DATABASE "{name}" OWNER "{name}"')
        yield LimitedDatabase(
            role_dsn._replace(scheme="postgresql+asyncpg").geturl(), role_dsn.geturl(), admin_dsn
        )
    finally:
        await drop_postgres_database(admin_dsn)
        await admin.execute(f'DROP ROLE IF EXISTS "{name}"')
        await admin.close()


def redis_url() -> str:
    """The test Redis (database 15), after checking it is there."""
    require_service("Redis", "127.0.0.1", 6379)
    return REDIS_URL

"""The Redis clients every part of Citestream makes, against the real Redis."""

from __future__ import annotations

import asyncio
from importlib import metadata

import pytest

from app.core.redis_clients import redis_client
from tests.support.services import redis_url


async def test_new_connections_name_the_driver_without_reading_package_metadata(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    version = metadata.version("redis")
    client = redis_client(redis_url())
    await client.ping()  # the driver's name and version are found out by now, once
    looked_up: list[str] = []
    real_version = metadata.version

    def counting_version(name: str) -> str:
        looked_up.append(name)
        return real_version(name)

    monkeypatch.setattr(metadata, "version", counting_version)
    try:
        # A burst: every command at once needs a connection of its own.
        names = await asyncio.gather(*(client.client_getname() for _ in range(20)))
        pool = client.connection_pool
        connections = [*pool._available_connections, *pool._in_use_connections]
    finally:
        await client.aclose()
    assert names == [None] * 20
    assert len(connections) >= 10, "one connection served the burst; the test proves nothing"
    assert looked_up == []
    # What CLIENT SETINFO tells the server (CLIENT LIST shows it from Redis 7.2) is what
    # redis-py's own default would tell it.
    for connection in connections:
        assert connection.driver_info is not None
        assert connection.driver_info.formatted_name == "redis-py"
        assert connection.driver_info.lib_version == version

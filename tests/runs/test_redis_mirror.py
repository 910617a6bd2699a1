"""Redis is never in the way of an answer: a Redis that takes the connection and then says
nothing costs the owner one short wait, after which its writes are skipped for a while."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from app.core.clock import SystemClock
from app.core.runs import StoredEvent
from app.runs.redis_mirror import RedisRunMirror


@pytest.fixture
async def silent_redis() -> AsyncIterator[str]:
    """A server that accepts connections, reads what it is sent and never answers."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65536):
            pass
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"redis://127.0.0.1:{port}/0"


async def test_a_silent_redis_holds_a_run_up_once_for_the_write_timeout_then_not_at_all(
    silent_redis: str, caplog: pytest.LogCaptureFixture
) -> None:
    mirror = RedisRunMirror(
        silent_redis,
        worker_id="w1",
        clock=SystemClock(),
        retention_s=60,
        max_events=1000,
        liveness_ttl_s=5,
        write_timeout_s=0.25,
    )
    run_id = uuid.uuid4()
    try:
        with caplog.at_level(logging.WARNING):
            started = time.monotonic()
            await mirror.append(run_id, [StoredEvent(1, "message", '{"delta": "a"}')])
            first_write_s = time.monotonic() - started

            started = time.monotonic()
            for seq in range(2, 50):
                await mirror.append(run_id, [StoredEvent(seq, "message", '{"delta": "b"}')])
            later_writes_s = time.monotonic() - started
    finally:
        await asyncio.wait_for(mirror.aclose(), 5)

    assert 0.2 <= first_write_s < 2  # the write timeout, not Redis's silence
    assert later_writes_s < 0.2  # skipped while Redis is presumed away
    assert "Redis did not take runs' events" in caplog.text

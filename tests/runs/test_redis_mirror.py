"""A run's events in Redis: written a round trip at a time, read back one by one from any of
them; and Redis is never in the way of an answer: a Redis that takes the connection and then
says nothing costs the owner one short wait, after which its writes are skipped for a while."""

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
from tests.support.services import redis_url


def _mirror(url: str) -> RedisRunMirror:
    return RedisRunMirror(
        url,
        worker_id="w1",
        clock=SystemClock(),
        retention_s=60,
        max_events=1000,
        liveness_ttl_s=5,
        write_timeout_s=0.25,
        prefix=f"test-{uuid.uuid4().hex}",
    )


async def test_events_recorded_during_one_round_trip_share_an_entry_and_read_back_one_by_one() -> (
    None
):
    mirror = _mirror(redis_url())
    run_id = uuid.uuid4()
    deltas = [StoredEvent(seq, "message", f'{{"delta": "{seq}"}}') for seq in range(1, 6)]
    final = StoredEvent(6, "source", "[]")
    try:
        for event in deltas:  # as a run records them while no write is out
            mirror.append_soon(run_id, [event])
        await mirror.append(run_id, [final])
        stored = await mirror.all_events(run_id)
        resumed = await mirror.read(run_id, after=3, block_ms=1)
        entries = await mirror._reader.xlen(mirror._events_key(run_id))
    finally:
        await mirror.aclose()

    assert stored == [*deltas, final]
    assert resumed == [*deltas[3:], final]  # from inside an entry: only what follows
    assert entries == 1  # one XADD for the run in that round trip, not six


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
    mirror = _mirror(silent_redis)
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

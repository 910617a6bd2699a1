"""Redis is never in the way of an answer: a Redis that takes the connection and then says
nothing costs the owner one short wait, after which its writes are skipped for a while."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from app.core.clock import SystemClock
from app.core.runs import RunRecord, RunStatus, StoredEvent
from app.runs.redis_mirror import RedisRunMirror
from tests.support.services import redis_url


def _mirror_at(url: str) -> RedisRunMirror:
    """Worker w1's mirror, with writes that give up after a quarter of a second."""
    return RedisRunMirror(
        url,
        worker_id="w1",
        clock=SystemClock(),
        retention_s=60,
        max_events=1000,
        liveness_ttl_s=5,
        write_timeout_s=0.25,
        prefix=f"test-mirror-{uuid.uuid4().hex[:8]}",
    )


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
    mirror = _mirror_at(silent_redis)
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
    assert "Redis did not take runs' events and states" in caplog.text


@pytest.fixture
async def mirror() -> AsyncIterator[RedisRunMirror]:
    mirror = _mirror_at(redis_url())
    try:
        yield mirror
    finally:
        await mirror.aclose()


async def test_many_runs_events_written_at_once_come_back_exactly_and_expire(
    mirror: RedisRunMirror,
) -> None:
    # Texts JSON and Lua could each get wrong: quotes, backslashes, escapes, non-ASCII, emoji.
    texts = ["plain", 'say "hi"\\n', "\u00e9t\u00e9 \u2014 \U0001f600", "line\nbreak\t", "\\u00e9"]
    runs = [uuid.uuid4() for _ in range(20)]

    async def write(run_id: uuid.UUID) -> None:
        for seq, text in enumerate(texts, start=1):
            await mirror.append(run_id, [StoredEvent(seq, "message", json.dumps(text))])

    await asyncio.gather(*(write(run_id) for run_id in runs))  # batched together

    for run_id in runs:
        events = await mirror.all_events(run_id)
        assert [(e.seq, e.kind, json.loads(e.data)) for e in events] == [
            (seq, "message", text) for seq, text in enumerate(texts, start=1)
        ]
    ttl = await mirror._client.ttl(mirror._keys.events(runs[0]))
    assert 0 < ttl <= 600  # until the run ends: ten times the retention


async def test_an_event_redis_refuses_leaves_the_others_of_its_batch_and_later_writes(
    mirror: RedisRunMirror, caplog: pytest.LogCaptureFixture
) -> None:
    ended, going = uuid.uuid4(), uuid.uuid4()
    await mirror.append(ended, [StoredEvent(1, "message", '"a"'), StoredEvent(2, "error", "{}")])

    with caplog.at_level(logging.WARNING):
        await asyncio.gather(  # one batch: a late event of the ended run beside another run's
            mirror.append(ended, [StoredEvent(2, "message", '"late"')]),
            mirror.append(going, [StoredEvent(1, "message", '"x"')]),
        )
        await mirror.append(going, [StoredEvent(2, "message", '"y"')])

    assert [e.data for e in await mirror.all_events(ended)] == ['"a"', "{}"]
    assert [e.data for e in await mirror.all_events(going)] == ['"x"', '"y"']
    assert "Redis refused 1 of 2 runs' events" in caplog.text


async def test_a_burst_of_runs_reaches_redis_whole_beyond_a_pool_s_worth_of_connections(
    mirror: RedisRunMirror,
) -> None:
    # redis-py's pool refuses a 101st connection: a thousand answers starting at once used to
    # lose runs, states and events to "Too many connections" and the circuit breaker after it.
    records = [
        RunRecord(
            run_id=uuid.uuid4(),
            session_id=uuid.uuid4(),
            message_id=uuid.uuid4(),
            owner="w1",
            background=False,
            status=RunStatus.RUNNING,
            created_at=datetime.now(UTC),
        )
        for _ in range(400)
    ]

    async def one_run(record: RunRecord) -> None:
        await mirror.publish_run(record)
        await mirror.append(record.run_id, [StoredEvent(1, "message", '"a"')])
        await mirror.mark_listener(record.run_id)
        await mirror.update(record.but(status=RunStatus.COMPLETED, final_seq=1))

    await asyncio.gather(*(one_run(record) for record in records))

    assert mirror.lapses == 0
    for record in records:
        stored = await mirror.record(record.run_id)
        assert stored is not None
        assert (stored.status, stored.final_seq) == (RunStatus.COMPLETED, 1)
        assert await mirror.latest_run_of(record.session_id) == record.run_id
        assert [e.data for e in await mirror.all_events(record.run_id)] == ['"a"']
    assert 0 < await mirror._client.ttl(mirror._keys.run(records[0].run_id)) <= 60


async def test_a_listener_s_mark_does_not_bring_back_a_forgotten_run(
    mirror: RedisRunMirror,
) -> None:
    run_id = uuid.uuid4()
    await mirror.mark_listener(run_id)

    assert await mirror._client.exists(mirror._keys.run(run_id)) == 0

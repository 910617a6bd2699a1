"""Following a run through Redis when Redis goes away mid-answer: the listener's stream ends
with the reason as its last event, instead of being cut."""

from __future__ import annotations

import uuid
from contextlib import aclosing
from datetime import UTC, datetime

from app.core.clock import SystemClock
from app.core.metrics import Metrics
from app.core.runs import RunRecord, RunStatus, StoredEvent
from app.runs.redis_mirror import RedisRunMirror
from app.services.answer_events import AnswerDelta, AnswerEvent, AnswerFailed, AnswerStarted
from app.services.run_codec import encode
from app.services.run_following import follow_remote
from tests.support.services import redis_url
from tests.support.tcp_proxy import running_proxy


async def _owner_lost(record: RunRecord, partial: str) -> None:
    raise AssertionError("the owner is alive; only Redis went away")


async def test_redis_going_away_mid_follow_ends_the_stream_with_runs_unavailable() -> None:
    redis_port = int(redis_url().rsplit(":", 1)[1].split("/")[0])
    run_id, session_id, message_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    record = RunRecord(
        run_id=run_id,
        session_id=session_id,
        message_id=message_id,
        owner="worker-a",
        background=False,
        status=RunStatus.RUNNING,
        created_at=datetime.now(UTC),
    )
    async with running_proxy(redis_port) as proxy:
        mirror = RedisRunMirror(
            f"redis://127.0.0.1:{proxy.port}/15",
            worker_id="worker-b",
            clock=SystemClock(),
            retention_s=60,
            max_events=100,
            liveness_ttl_s=3,
            prefix=f"test-follow-{uuid.uuid4().hex[:8]}",
        )
        try:
            await mirror.publish_run(record)
            events: list[AnswerEvent] = [
                AnswerStarted(session_id, message_id, run_id),
                AnswerDelta("Half "),
            ]
            stored = [StoredEvent(seq, *encode(e)) for seq, e in enumerate(events, start=1)]
            await mirror.append(run_id, stored)
            following = follow_remote(mirror, record, 0, Metrics(), on_owner_lost=_owner_lost)
            async with aclosing(following):
                first = await anext(following)
                assert [seq for seq, _ in first] == [1, 2]
                await proxy.pause()  # Redis is unreachable from here on
                last = [batch async for batch in following]
        finally:
            await proxy.resume()
            await mirror.aclose()

    assert len(last) == 1
    [(seq, event)] = last[0]
    assert seq == 3
    assert isinstance(event, AnswerFailed)
    assert event.error.code == "runs_unavailable"

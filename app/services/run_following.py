"""Following a run that another worker executes, through Redis: replay, then live, and notice
when that worker is gone."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TYPE_CHECKING

from app.core.errors import CitestreamError, WorkerLost
from app.core.metrics import Metrics
from app.core.runs import RunRecord, StoredEvent
from app.memory.messages import MessageStatus, TurnOutcome
from app.memory.turns import TurnStore
from app.services.answer_events import AnswerDelta, AnswerEvent, AnswerFailed
from app.services.run_codec import FINAL_KINDS, decode, encode

if TYPE_CHECKING:
    from app.runs.redis_mirror import RedisRunMirror

logger = logging.getLogger(__name__)

Batch = list[tuple[int, AnswerEvent]]
OwnerLost = Callable[[RunRecord, str], Awaitable[None]]
# How long one read waits for new events before checking that the owner is alive.
_READ_BLOCK_MS = 1000
# How often a listener tells the owner it is there (well within the orphan grace).
_MARK_EVERY_S = 1.0


async def follow_remote(
    mirror: RedisRunMirror,
    record: RunRecord,
    after: int,
    metrics: Metrics,
    *,
    on_owner_lost: OwnerLost,
) -> AsyncGenerator[Batch, None]:
    """The run's events after `after` from Redis, until its final event. If Redis cannot be
    reached meanwhile, the listener's stream ends with that error as its final event (in
    whatever protocol it speaks), rather than being cut; the run goes on on its worker, and
    can be followed again."""
    cursor = after
    replaying = after > 0
    marked_at = float("-inf")
    try:
        while True:
            if time.monotonic() - marked_at >= _MARK_EVERY_S:
                await mirror.mark_listener(record.run_id)
                marked_at = time.monotonic()
            stored = await mirror.read(record.run_id, cursor, _READ_BLOCK_MS)
            if stored:
                if replaying:
                    metrics.run_replayed_events.inc(len(stored))
                    replaying = False
                cursor = stored[-1].seq
                yield [(event.seq, decode(event.kind, event.data)) for event in stored]
                if stored[-1].kind in FINAL_KINDS:
                    return
                continue
            if not await mirror.owner_alive(record):
                await end_for_everyone(mirror, record, on_owner_lost)
    except CitestreamError as error:
        yield [(cursor + 1, AnswerFailed(error))]


async def end_for_everyone(
    mirror: RedisRunMirror, record: RunRecord, on_owner_lost: OwnerLost
) -> None:
    """End a run whose owner is gone: its last event says so, it reads failed, and what it had
    written is saved as the interrupted answer (by whoever gets there first, once)."""
    kind, data = encode(AnswerFailed(WorkerLost()))
    if await mirror.fail_if_owner_lost(record, StoredEvent(0, kind, data)) is None:
        return  # it ended already, or the owner came back: the next read shows which
    logger.warning("Worker %s stopped while running %s", record.owner, record.run_id)
    # This listener ended the run, so it saves what the lost worker had written.
    partial = "".join(
        event.text
        for stored in await mirror.all_events(record.run_id)
        if isinstance(event := decode(stored.kind, stored.data), AnswerDelta)
    )
    try:
        await on_owner_lost(record, partial)
    except Exception:
        logger.exception(
            "Could not save the answer of run %s after its worker was lost", record.run_id
        )


async def save_lost_answer(turns: TurnStore, record: RunRecord, partial: str) -> None:
    """The dead worker never saved its answer: save what it had written, and free the session."""
    outcome = TurnOutcome(
        content=partial,
        status=MessageStatus.INTERRUPTED,
        sources=[],
        error_code="worker_lost",
        token_count=0,
        latency_ms=0,
    )
    await turns.finish(record.session_id, record.message_id, outcome)

"""Executing a run: drive its answer to the end, number and keep its events (mirrored to Redis
when configured), and settle its final state, whatever stops it."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from app.core.clock import Clock
from app.core.errors import CitestreamError, RunCancelled
from app.core.log_context import bind_log_ids
from app.core.metrics import Metrics
from app.core.runs import CancelOrigin, RunRecord, RunStatus, StoredEvent
from app.runs.local import LocalRunLog
from app.services.answer_events import AnswerDelta, AnswerEvent, AnswerFailed, AnswerSources
from app.services.answering import TurnAnswerer
from app.services.intake import PreparedTurn
from app.services.packed_answer import PackedAnswer
from app.services.run_codec import encode

if TYPE_CHECKING:
    from app.runs.redis_mirror import RedisRunMirror

logger = logging.getLogger(__name__)

_CANCELLED_CODES = frozenset({"cancelled", "shutting_down"})


def _final(event: AnswerEvent) -> bool:
    return isinstance(event, AnswerSources | AnswerFailed)


def _ended(run: LocalRun) -> bool:
    """Whether the run's log already holds its final event."""
    last = run.log.after(run.log.last_seq - 1)
    return bool(last) and _final(last[0])


@dataclass
class LocalRun:
    """A run executing in this process, and what is known of it."""

    record: RunRecord
    log: LocalRunLog[AnswerEvent]
    last_listened: float  # the clock's monotonic time when a listener was last there
    task: asyncio.Task[None] | None = None
    # Cancelled through anyio, not Task.cancel(): the answerer's shielded clean-up (stop the
    # model, save the partial answer) must not be cut short, and native cancellation would.
    scope: anyio.CancelScope | None = None
    cancel_origin: CancelOrigin | None = None
    ended: float | None = None
    # The run's latest write to Redis, while it may still be out.
    mirror_write: asyncio.Future[None] | None = None
    # The mirror's count of failed writes when the run started; and, once it has ended, whether
    # Redis holds all of it, so that this process need not keep it for the whole retention.
    mirror_lapses: int = 0
    whole_in_redis: bool = False


class RunExecutor:
    """Runs one answer per call of `execute`, as the body of the run's task."""

    def __init__(
        self,
        *,
        answerer: TurnAnswerer,
        mirror: RedisRunMirror | None,
        metrics: Metrics,
        clock: Clock,
        before_final: Callable[[uuid.UUID], Awaitable[None]] | None = None,
    ) -> None:
        self._answerer = answerer
        self._mirror = mirror
        # Called before a run's final event is written (a client that saw the end of its answer
        # and asks again at once must find the run's admission slot free), and again when the
        # run's task ends however it ends; it must be idempotent.
        self._before_final = before_final
        self._metrics = metrics
        self._clock = clock

    async def execute(self, run: LocalRun, turn: PreparedTurn) -> None:
        """Answer `turn` as `run`; never raises: how it ended is the run's last event."""
        # This task's log records name the run (and, copied from the request that started it,
        # the request and the principal).
        bind_log_ids(run_id=run.record.run_id, session_id=run.record.session_id)
        try:
            with anyio.CancelScope() as scope:
                run.scope = scope
                if run.cancel_origin is not None:  # cancelled before it began
                    scope.cancel()
                events = self._answerer.events(turn, run_id=run.record.run_id)
                async with aclosing(events):
                    async for event in events:
                        await self._append(run, event)
                        if scope.cancel_called and not _final(event):
                            # Checked here too: while a fast model keeps this task busy, a
                            # cancellation may wait for a suspension that comes too late.
                            # Closing the answer stops the model and saves what was written.
                            break
            if scope.cancel_called and not _ended(run):
                # The answerer has stopped the model and saved the partial answer (shielded).
                shutting_down = run.cancel_origin == CancelOrigin.SHUTDOWN
                with anyio.CancelScope(shield=True):
                    await self._append(run, AnswerFailed(RunCancelled(shutting_down=shutting_down)))
        except Exception:
            logger.exception("Run %s failed", run.record.run_id)
            with anyio.CancelScope(shield=True):
                await self._append(run, AnswerFailed(CitestreamError("The answer failed.")))
        finally:
            with anyio.CancelScope(shield=True):
                await self._settle(run)
                if self._before_final is not None:
                    await self._before_final(run.record.run_id)
            # An ended run is kept for resumes (minutes): its record and events, not the task
            # and cancel scope, which held this coroutine, its context and anyio's task state.
            run.task = None
            run.scope = None

    async def _append(self, run: LocalRun, event: AnswerEvent) -> None:
        if self._before_final is not None and _final(event):
            with anyio.CancelScope(shield=True):
                await self._before_final(run.record.run_id)
        seq = run.log.append(event)
        first_token = isinstance(event, AnswerDelta) and run.record.first_token_at is None
        if first_token:
            run.record = run.record.but(first_token_at=self._clock.now())
        if self._mirror is not None:
            stored = [StoredEvent(seq, *encode(event))]
            try:
                # One write of a run out at a time: while it is, the model's next tokens are
                # joined into one event, so a fast model costs a round trip per batch, not per
                # token. A model slower than the round trip finds its last write done and goes
                # on at once; waiting for each token's own write cost a task wake-up per token.
                await _sent(run.mirror_write)
            finally:
                # Started even if that wait was cancelled: no event may be left out of Redis
                # while the ones after it go in.
                run.mirror_write = self._mirror.start_append(run.record.run_id, stored)
            if first_token:  # so that GET /api/runs/{id} on another worker shows it too
                await self._mirror.update(run.record)

    async def _settle(self, run: LocalRun) -> None:
        last = run.log.after(run.log.last_seq - 1)
        status: RunStatus = RunStatus.FAILED
        code: str | None = "internal_error"
        if last and isinstance(last[0], AnswerSources):
            status, code = RunStatus.COMPLETED, None
        elif last and isinstance(last[0], AnswerFailed):
            code = last[0].error.code
            status = RunStatus.CANCELLED if code in _CANCELLED_CODES else RunStatus.FAILED
        run.record = run.record.but(
            status=status,
            error_code=code,
            finished_at=self._clock.now(),
            final_seq=run.log.last_seq or None,
        )
        run.log.close(pack=PackedAnswer.of)
        run.ended = self._clock.monotonic()
        detail = f" ({code})" if code and code != status.value else ""
        logger.info("Run ended: %s%s", status.value, detail)
        self._metrics.runs.labels(outcome=status.value).inc()
        if self._mirror is not None:
            sent = True
            try:
                # Every event in Redis before the state that says how many there are.
                await _sent(run.mirror_write)
            except Exception:
                # Redis's own failures are handled by the mirror; this is anything else. The
                # run has ended either way, and its state is still written.
                logger.exception("The last events of run %s were not written", run.record.run_id)
                sent = False
            run.mirror_write = None
            await self._mirror.update(run.record)
            run.whole_in_redis = sent and self._mirror.holds_whole(
                run.mirror_lapses, run.log.last_seq
            )


async def _sent(write: asyncio.Future[None] | None) -> None:
    """Wait for `write` to be sent (at once if it has been), raising its error if it failed.
    Shielded: cancelling the wait does not take the events out of their batch."""
    if write is not None:
        await asyncio.shield(write)

"""Runs: each answer executes as a task of the worker that started it, apart from any HTTP
connection. Listeners follow its events from any worker, replaying what they missed; anyone can
cancel it; nobody listening for the orphan grace cancels it; a drain ends what is left.

Within one process the events live in memory. With Redis configured, they are mirrored there
too (see app/runs/redis_mirror.py) for listeners and cancels on other workers; the owner's own
listeners still read memory.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

import anyio

from app.core.clock import Clock
from app.core.errors import NotFound, ServiceUnavailable
from app.core.metrics import Metrics
from app.core.principals import Principal
from app.core.runs import CancelOrigin, RunRecord, RunStatus
from app.core.settings import RunsSettings
from app.memory.messages import HistoryMessage
from app.memory.turns import TurnStore
from app.runs.local import LocalRunLog
from app.services.admission import AdmissionControl
from app.services.answer_events import AnswerEvent
from app.services.answering import TurnAnswerer
from app.services.intake import QuestionIntake
from app.services.run_execution import LocalRun, RunExecutor
from app.services.run_following import end_for_everyone, follow_remote, save_lost_answer
from app.services.run_supervision import LocalRuns, RunSupervisor

if TYPE_CHECKING:
    from app.runs.redis_mirror import RedisRunMirror

logger = logging.getLogger(__name__)

Batch = list[tuple[int, AnswerEvent]]


class RunService:
    """Starts, follows, inspects and cancels runs."""

    def __init__(
        self,
        *,
        intake: QuestionIntake,
        answerer: TurnAnswerer,
        turns: TurnStore,
        admission: AdmissionControl,
        mirror: RedisRunMirror | None,
        worker_id: str,
        settings: RunsSettings,
        metrics: Metrics,
        clock: Clock,
    ) -> None:
        self._intake = intake
        self._executor = RunExecutor(
            answerer=answerer,
            mirror=mirror,
            metrics=metrics,
            clock=clock,
            before_final=admission.release_run,
        )
        self._turns = turns
        self._admission = admission
        self._mirror = mirror
        self.worker_id = worker_id
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._runs = LocalRuns()
        self._supervisor = RunSupervisor(
            self._runs, cancel=self._cancel_local, mirror=mirror, settings=settings, clock=clock
        )
        self._accepting = True
        self._watching: asyncio.Task[None] | None = None
        metrics.runs_active.set_function(self._runs.running_count)
        metrics.run_listeners.set_function(self._runs.listener_count)
        metrics.runs_kept.set_function(self._runs.kept_count)

    async def open(self) -> None:
        """Take cancel requests from other workers, and start watching runs for listeners."""
        if self._mirror is not None:
            await self._mirror.start(self._cancel_requested_elsewhere)
        self._watching = asyncio.create_task(self._supervisor.watch())

    async def aclose(self) -> None:
        """Stop watching; cancel what still runs (a drain normally ended it all before)."""
        if self._watching is not None:
            self._watching.cancel()
            await asyncio.gather(self._watching, return_exceptions=True)
        await self._cancel_all(CancelOrigin.SHUTDOWN, wait_s=5.0)

    # -- starting --------------------------------------------------------------------------------

    async def start(
        self,
        query: str,
        session_id: uuid.UUID | None,
        collection: str | None = None,
        *,
        principal: Principal,
        background: bool = False,
        create_missing: bool = False,
        history: list[HistoryMessage] | None = None,
    ) -> RunRecord:
        """Admit the run for `principal` (429/503 over a limit), check the question, claim its
        session and start answering it (4xx before anything starts when the request cannot be
        answered). `create_missing` and `history` are QuestionIntake.prepare's."""
        if not self._accepting:
            raise ServiceUnavailable(
                "The server is shutting down and takes no new questions; ask again shortly.",
                code="draining",
                retry_after_s=2,
            )
        await self._admission.admit_work(principal)
        run_id = uuid.uuid4()
        slot = await self._admission.hold_run(principal, run_id)
        try:
            turn = await self._intake.prepare(
                query,
                session_id,
                collection,
                principal=principal,
                create_missing=create_missing,
                history=history,
            )
            record = RunRecord(
                run_id=run_id,
                session_id=turn.session_id,
                message_id=turn.message_id,
                owner=self.worker_id,
                background=background,
                status=RunStatus.RUNNING,
                created_at=self._clock.now(),
                principal_id=principal.id,
            )
            run = LocalRun(record, LocalRunLog(), last_listened=self._clock.monotonic())
            self._runs.add(run)
            if self._mirror is not None:
                run.mirror_lapses = self._mirror.lapses
                await self._mirror.publish_run(record)
        except BaseException:  # refused, or the request went away: the run never starts
            with anyio.CancelScope(shield=True):
                await self._admission.release(slot)
            raise
        # The executor gives the slot back before the final event, and at the latest at the end.
        run.task = asyncio.create_task(self._executor.execute(run, turn), name=f"run {run_id}")
        return record

    # -- following -------------------------------------------------------------------------------

    async def follow(
        self,
        run_id: uuid.UUID,
        after: int = 0,
        *,
        principal: Principal,
        cancel_on_close: CancelOrigin | None = None,
    ) -> AsyncGenerator[Batch, None]:
        """The run's events after `after`, in batches, then live until its final event.

        NotFound now (before any stream opens) for a run this server does not know or no longer
        keeps, or that `principal` may not see. With `cancel_on_close`, a listener that goes
        away before the end cancels the run.
        """
        run = self._runs.get(run_id)
        if run is not None and principal.may_see(run.record.principal_id):
            return self._follow_local(run, after, cancel_on_close)
        if run is None and self._mirror is not None:
            record = await self._mirror.record(run_id)
            if record is not None and principal.may_see(record.principal_id):
                return follow_remote(
                    self._mirror, record, after, self._metrics, on_owner_lost=self._owner_lost
                )
        raise _unknown(run_id)

    async def _follow_local(
        self, run: LocalRun, after: int, cancel_on_close: CancelOrigin | None
    ) -> AsyncGenerator[Batch, None]:
        if after:
            self._metrics.run_replayed_events.inc(max(0, run.log.last_seq - after))
        try:
            async for batch in run.log.follow(after):
                yield batch
        finally:
            run.last_listened = self._clock.monotonic()
            if cancel_on_close is not None and not run.log.closed:
                with anyio.CancelScope(shield=True):
                    await self._cancel_local(run, cancel_on_close)

    # -- inspecting and cancelling ---------------------------------------------------------------

    async def status(self, run_id: uuid.UUID, principal: Principal) -> RunRecord:
        """A run's state and timings (404 once it is forgotten, or if it is not yours)."""
        run = self._runs.get(run_id)
        if run is not None:
            if principal.may_see(run.record.principal_id):
                return run.record
            raise _unknown(run_id)
        record = None if self._mirror is None else await self._mirror.record(run_id)
        if self._mirror is None or record is None or not principal.may_see(record.principal_id):
            raise _unknown(run_id)
        if record.status.finished or await self._mirror.owner_alive(record):
            return record
        # Nobody was following it when its worker died: notice now.
        await end_for_everyone(self._mirror, record, self._owner_lost)
        return await self._mirror.record(run_id) or record

    async def active_run(self, session_id: uuid.UUID, principal: Principal) -> RunRecord | None:
        """The run answering in this session right now, wherever it executes; None if none
        (or if it is not the principal's)."""
        run_id = self._runs.latest_of(session_id)
        if run_id is None and self._mirror is not None:
            run_id = await self._mirror.latest_run_of(session_id)
        if run_id is None:
            return None
        try:
            record = await self.status(run_id, principal)
        except NotFound:
            return None
        return None if record.status.finished else record

    async def cancel(
        self, run_id: uuid.UUID, principal: Principal, origin: CancelOrigin = CancelOrigin.API
    ) -> RunRecord:
        """Stop a run wherever it executes; a finished run is left as it is. Returns its state.
        Another principal's run is not found."""
        run = self._runs.get(run_id)
        if run is not None and principal.may_see(run.record.principal_id):
            await self._cancel_local(run, origin)
            return run.record
        if run is not None or self._mirror is None:
            raise _unknown(run_id)
        record = await self._mirror.record(run_id)
        if record is None or not principal.may_see(record.principal_id):
            raise _unknown(run_id)
        if record.status.finished:
            return record
        # Counted by the owner, which stops it.
        await self._mirror.request_cancel(record, origin.value)
        # The owner stops it within milliseconds; answer with the state it ends in.
        for _ in range(50):
            await asyncio.sleep(0.02)
            latest = await self._mirror.record(run_id)
            if latest is None or latest.status.finished:
                return latest or record
        return record

    async def _cancel_local(self, run: LocalRun, origin: CancelOrigin) -> None:
        task = run.task
        if task is None or task.done() or run.record.status.finished:
            return
        if run.cancel_origin is None:
            run.cancel_origin = origin
            self._metrics.run_cancels.labels(origin=origin.value).inc()
            if run.scope is not None:
                run.scope.cancel()
        # Until the model has stopped and the partial answer is saved.
        await asyncio.wait([task], timeout=10)

    async def _owner_lost(self, record: RunRecord, partial: str) -> None:
        await save_lost_answer(self._turns, record, partial)

    def _cancel_requested_elsewhere(self, run_id: uuid.UUID, origin: str) -> None:
        run = self._runs.get(run_id)
        if run is not None:
            self._supervisor.in_background(self._cancel_local(run, CancelOrigin(origin)))

    # -- draining and supervising ----------------------------------------------------------------

    async def drain(self, within_s: float) -> None:
        """Take no new runs; let those in flight finish for `within_s`, then cancel the rest
        (their listeners get `shutting_down`, their partial answers are saved)."""
        self._accepting = False
        running = [run.task for run in self._runs.running() if run.task]
        if running:
            logger.info("Draining: %d answers in flight, waiting up to %gs", len(running), within_s)
            await asyncio.wait(running, timeout=within_s)
        await self._cancel_all(CancelOrigin.SHUTDOWN, wait_s=5.0)

    async def _cancel_all(self, origin: CancelOrigin, wait_s: float) -> None:
        left = self._runs.running()
        if left:
            logger.info("Cancelling %d answers still running (%s)", len(left), origin.value)
            await asyncio.wait_for(
                asyncio.gather(*(self._cancel_local(run, origin) for run in left)), wait_s
            )


def _unknown(run_id: uuid.UUID) -> NotFound:
    return NotFound(
        f"There is no run {run_id}: it never existed here, or it ended more than the "
        "retention period ago."
    )

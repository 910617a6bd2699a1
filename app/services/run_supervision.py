"""This process's runs, kept in one registry and watched: a run nobody listens to for the
orphan grace is cancelled (unless it is a background run), and a finished run is forgotten once
the retention has passed, or sooner when Redis holds all of it."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING

from app.core.clock import Clock
from app.core.runs import CancelOrigin
from app.core.settings import RunsSettings
from app.services.run_execution import LocalRun

if TYPE_CHECKING:
    from app.runs.redis_mirror import RedisRunMirror

logger = logging.getLogger(__name__)

Cancel = Callable[[LocalRun, CancelOrigin], Coroutine[object, object, None]]


class LocalRuns:
    """The runs this process executes (and those it finished, for the retention)."""

    def __init__(self) -> None:
        self._runs: dict[uuid.UUID, LocalRun] = {}
        # The latest run of each session started here.
        self._by_session: dict[uuid.UUID, uuid.UUID] = {}

    def add(self, run: LocalRun) -> None:
        self._runs[run.record.run_id] = run
        self._by_session[run.record.session_id] = run.record.run_id

    def get(self, run_id: uuid.UUID) -> LocalRun | None:
        return self._runs.get(run_id)

    def latest_of(self, session_id: uuid.UUID) -> uuid.UUID | None:
        return self._by_session.get(session_id)

    def all(self) -> list[LocalRun]:
        return list(self._runs.values())

    def running(self) -> list[LocalRun]:
        return [run for run in self._runs.values() if run.task and not run.task.done()]

    def forget(self, run: LocalRun) -> None:
        del self._runs[run.record.run_id]
        if self._by_session.get(run.record.session_id) == run.record.run_id:
            del self._by_session[run.record.session_id]

    def running_count(self) -> float:
        return sum(1 for run in self._runs.values() if run.ended is None)

    def kept_count(self) -> float:
        return sum(1 for run in self._runs.values() if run.ended is not None)

    def listener_count(self) -> float:
        return sum(run.log.listeners for run in self._runs.values())


class RunSupervisor:
    """Looks at every run of this process every `supervise_every_s`."""

    def __init__(
        self,
        runs: LocalRuns,
        *,
        cancel: Cancel,
        mirror: RedisRunMirror | None,
        settings: RunsSettings,
        clock: Clock,
    ) -> None:
        self._runs = runs
        self._cancel = cancel
        self._mirror = mirror
        self._settings = settings
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    async def watch(self) -> None:
        """Forever (until cancelled)."""
        while True:
            await asyncio.sleep(self._settings.supervise_every_s)
            try:
                await self.look()
            except Exception:
                logger.exception("Could not check runs for listeners")

    async def look(self) -> None:
        """One round: forget what is past the retention, cancel orphans."""
        now = self._clock.monotonic()
        grace = self._settings.orphan_grace_s
        for run in self._runs.all():
            if run.ended is not None:
                # Once Redis holds the whole run, resumes and status are served from there for
                # the rest of the retention: keeping thousands of ended runs here too cost memory
                # that did not come back (their objects pin the allocator's blocks).
                keep = self._settings.retention_s
                if run.whole_in_redis:
                    keep = min(keep, self._settings.local_keep_s)
                if now - run.ended >= keep:
                    self._runs.forget(run)
                continue
            if run.log.listeners:
                run.last_listened = now
            elif (
                not run.record.background
                and now - run.last_listened >= grace
                and not await self._listened_to_elsewhere(run)
            ):
                logger.info("Run %s has had no listener for %gs", run.record.run_id, grace)
                self.in_background(self._cancel(run, CancelOrigin.ORPHANED))

    def in_background(self, work: Coroutine[object, object, None]) -> None:
        """Run `work` as a task kept until done (the loop holds tasks only weakly)."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _listened_to_elsewhere(self, run: LocalRun) -> bool:
        if self._mirror is None:
            return False
        seen = await self._mirror.listener_seen_at(run.record.run_id)
        grace = self._settings.orphan_grace_s
        if seen is None or (self._clock.now() - seen).total_seconds() >= grace:
            return False
        run.last_listened = self._clock.monotonic()
        return True

"""Runs shared through Redis, so that any worker can follow, replay and cancel a run that
another worker executes.

- A run's events go to a Redis Stream whose entry ids are `0-<seq>`, bounded (MAXLEN) and
  expiring `retention_s` after the run ends; a listener anywhere reads after the sequence number
  it last saw, blocking until more arrive.
- A run's record (owner, status, timings) is a hash next to it.
- Each worker refreshes a liveness key and listens on its own channel for cancel requests.
- A listener that finds the owner's liveness key gone ends the run for everyone, atomically:
  one `error` event (the owner was lost) and the status `failed`.

Redis is never in the way of an answer: the owner's writes have a short timeout, and after a
failure they are skipped for a while (a circuit breaker, as the window cache has), so a Redis
outage costs listeners on other workers their view of a run, never the run itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

from redis.exceptions import RedisError

from app.core.busy_timeouts import within
from app.core.clock import Clock
from app.core.errors import ServiceUnavailable
from app.core.redis_clients import REDIS_UNAVAILABLE, redis_client
from app.core.runs import RunRecord, StoredEvent
from app.runs.group_writes import GroupWriter
from app.runs.redis_fields import run_record, stored_event
from app.runs.redis_presence import CancelHandler, WorkerPresence
from app.runs.redis_scripts import FAIL_IF_OWNER_LOST, WRITE_RUNS
from app.runs.redis_writes import ListenerMark, OwnerWrite, RunKeys, RunState, WriteBatch

logger = logging.getLogger(__name__)


class RedisRunMirror:
    """The Redis side of runs, for the worker `worker_id`."""

    def __init__(
        self,
        url: str,
        *,
        worker_id: str,
        clock: Clock,
        retention_s: float,
        max_events: int,
        liveness_ttl_s: float,
        write_timeout_s: float = 0.25,
        retry_after_s: float = 2.0,
        prefix: str = "citestream",
    ) -> None:
        # Writes are short: a stalled Redis must not hold up the answer. The limit is on each
        # write as a whole (see `_write`), not a socket timeout: redis-py arms one of those for
        # every reply, and a pipeline of a few hundred events has as many replies.
        self._client = redis_client(
            url,
            socket_timeout=None,
            socket_connect_timeout=write_timeout_s,
            decode_responses=True,
        )
        self._write_timeout_s = write_timeout_s
        # Reads block up to a second waiting for events: their socket must wait longer.
        self._reader = redis_client(
            url, socket_timeout=10, socket_connect_timeout=5, decode_responses=True
        )
        self._retry_after_s = retry_after_s
        self._retry_at = float("-inf")  # the clock's monotonic time before which writes skip
        # Owner-side writes that failed or were skipped since this process started: a run that
        # saw none between its start and its end is whole in Redis (see `holds_whole`).
        self.lapses = 0
        self.worker_id = worker_id
        self._clock = clock
        self._retention_s = max(1, round(retention_s))
        self._max_events = max_events
        self._liveness_ttl_ms = max(100, round(liveness_ttl_s * 1000))
        self._keys = RunKeys(prefix)
        self._fail_if_owner_lost = self._reader.register_script(FAIL_IF_OWNER_LOST)
        self._write_runs = self._client.register_script(WRITE_RUNS)
        self._presence = WorkerPresence(
            self._reader, worker_id, liveness_ttl_ms=self._liveness_ttl_ms, prefix=prefix
        )
        # Everything the owner writes of its runs leaves together: one script call in flight for
        # the whole process, however many runs start, stream and end at that moment.
        self._writes = GroupWriter[OwnerWrite](self._send)

    # -- the owner's side ----------------------------------------------------------------------

    async def start(self, on_cancel: CancelHandler) -> None:
        """Announce this worker alive and start taking cancel requests for its runs."""
        await self._presence.start(on_cancel)

    async def _write(self, what: str, command: Callable[[], Awaitable[object]]) -> None:
        """Run an owner-side write unless Redis failed a moment ago; never raise."""
        now = self._clock.monotonic()
        if now < self._retry_at:
            self.lapses += 1
            return
        try:
            # A write cut short here loses its connection (redis-py closes a connection whose
            # reply was not read), never its place in another write's replies. Under load, a
            # turn of this process's loop can outlast the timeout: see `within`.
            await within(self._write_timeout_s, command())
        except REDIS_UNAVAILABLE as error:
            self.lapses += 1
            if self._retry_at == float("-inf") or now >= self._retry_at + self._retry_after_s:
                logger.warning(
                    "Redis did not take %s (%s: %s); runs go on, and listeners on other workers "
                    "miss events until it is back",
                    what,
                    type(error).__name__,
                    error,
                )
            self._retry_at = now + self._retry_after_s

    def holds_whole(self, lapses_before: int, events: int) -> bool:
        """Whether a run that started when `lapses` was `lapses_before`, and has just written its
        final state, is whole in Redis: no write failed meanwhile (any run's, to be safe) and
        its stream was not trimmed."""
        return self.lapses == lapses_before and events <= self._max_events

    async def publish_run(self, record: RunRecord) -> None:
        """Make a new run known to every worker, and the latest run of its session (for a
        client that finds its chat again)."""
        await self._writes.write([RunState(record, new=True)])

    async def append(self, run_id: uuid.UUID, events: list[StoredEvent]) -> None:
        """Add events (in order, numbered by the owner) to the run's stream; returns once they
        have been sent, in one round trip with the other runs' writes of the moment."""
        await self._writes.write([(run_id, event) for event in events])

    def start_append(self, run_id: uuid.UUID, events: list[StoredEvent]) -> asyncio.Future[None]:
        """`append` without waiting: the future is done once the events have been sent.
        Writes leave in the order they were started."""
        return self._writes.submit([(run_id, event) for event in events])

    async def update(self, record: RunRecord) -> None:
        """Write the run's state; once it has finished, both keys expire after the retention
        (until then they live ten times as long)."""
        await self._writes.write([RunState(record)])

    async def _send(self, writes: list[OwnerWrite]) -> None:
        batch = WriteBatch(writes, self._keys)
        arguments = (self._max_events, self._retention_s * 10, self._retention_s, batch.argument)

        async def send() -> None:
            refused = await self._write_runs(keys=batch.keys, args=arguments)
            if refused:
                logger.warning("Redis refused %s of %s runs' events", refused, batch.events)

        await self._write("runs' events and states", send)

    async def listener_seen_at(self, run_id: uuid.UUID) -> datetime | None:
        """When a listener on another worker last said it was there."""
        try:
            key = self._keys.run(run_id)
            value = await within(self._write_timeout_s, self._client.hget(key, "listener_at"))
        except REDIS_UNAVAILABLE:
            return None  # as if nobody listened elsewhere
        return None if value is None else datetime.fromisoformat(str(value))

    # -- any worker ----------------------------------------------------------------------------

    async def latest_run_of(self, session_id: uuid.UUID) -> uuid.UUID | None:
        """The id of the session's latest run, if Redis still knows one."""
        async with _unavailable_as_domain_error():
            value = await self._reader.get(self._keys.session(session_id))
        return None if value is None else uuid.UUID(str(value))

    async def record(self, run_id: uuid.UUID) -> RunRecord | None:
        """A run's state, as its owner last wrote it."""
        async with _unavailable_as_domain_error():
            fields = await self._reader.hgetall(self._keys.run(run_id))
        if not fields:
            return None
        return run_record(run_id, {str(name): str(value) for name, value in fields.items()})

    async def read(self, run_id: uuid.UUID, after: int, block_ms: int) -> list[StoredEvent]:
        """The events after `after`, waiting up to `block_ms` for the first of them."""
        async with _unavailable_as_domain_error():
            answer: list[tuple[str, list[tuple[str, dict[str, str]]]]] = await self._reader.xread(
                {self._keys.events(run_id): f"0-{max(0, after)}"}, block=block_ms, count=1000
            )  # type: ignore[assignment]
        return [
            stored_event(entry_id, fields)
            for _, entries in answer or []
            for entry_id, fields in entries
        ]

    async def all_events(self, run_id: uuid.UUID) -> list[StoredEvent]:
        """Every event the stream still holds, in order."""
        async with _unavailable_as_domain_error():
            entries: list[tuple[str, dict[str, str]]] = await self._reader.xrange(
                self._keys.events(run_id)
            )  # type: ignore[assignment]
        return [stored_event(entry_id, fields) for entry_id, fields in entries]

    async def mark_listener(self, run_id: uuid.UUID) -> None:
        """Say that someone on this worker is listening to a run (orphan detection)."""
        await self._writes.write([ListenerMark(run_id, self._clock.now().isoformat())])

    async def request_cancel(self, record: RunRecord, origin: str) -> None:
        """Ask the worker that executes the run to cancel it."""
        async with _unavailable_as_domain_error():
            await self._presence.send_cancel(record.owner, record.run_id, origin)

    async def owner_alive(self, record: RunRecord) -> bool:
        async with _unavailable_as_domain_error():
            return await self._presence.alive(record.owner)

    async def fail_if_owner_lost(self, record: RunRecord, final: StoredEvent) -> int | None:
        """End a run whose owner is gone, once for everyone: add `final` as its last event and
        mark it failed. Returns the final event's number, or None when the run had already ended
        or its owner is alive after all."""
        async with _unavailable_as_domain_error():
            seq = await self._fail_if_owner_lost(
                keys=[
                    self._keys.run(record.run_id),
                    self._keys.events(record.run_id),
                    self._presence.alive_key(record.owner),
                ],
                args=[
                    final.kind,
                    final.data,
                    "worker_lost",
                    self._clock.now().isoformat(),
                    self._retention_s,
                ],
            )
        return int(seq) or None

    async def aclose(self) -> None:
        await self._writes.aclose()
        await self._presence.aclose()
        await self._client.aclose()
        await self._reader.aclose()


@contextlib.asynccontextmanager
async def _unavailable_as_domain_error() -> AsyncIterator[None]:
    try:
        yield
    except (RedisError, OSError) as error:
        raise ServiceUnavailable(
            f"The shared run store (Redis) cannot be reached ({type(error).__name__}); "
            "try again shortly.",
            code="runs_unavailable",
            retry_after_s=2,
        ) from error

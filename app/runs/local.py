"""A run's events in this process: an append-only list any number of listeners follow, each
with its own cursor, waking when something is appended."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class LocalRunLog(Generic[T]):
    """Events numbered 1, 2, 3... in the order they were appended; ends once closed."""

    def __init__(self) -> None:
        self._events: list[T] = []
        # Once closed, what is kept: `_events` itself, or a smaller equivalent (see `close`).
        self._kept: Sequence[T] = self._events
        self._closed = False
        # Listeners waiting for the next append or the close. Futures of their own, not an
        # asyncio.Event: an Event per state would be a new deque (600 bytes) per token.
        self._waiting: list[asyncio.Future[None]] = []
        self.listeners = 0

    @property
    def last_seq(self) -> int:
        return len(self._kept)

    @property
    def closed(self) -> bool:
        return self._closed

    def append(self, event: T) -> int:
        """Add an event; returns its sequence number."""
        if self._closed:
            raise RuntimeError("the run's log is closed")
        self._events.append(event)
        self._wake()
        return len(self._events)

    def close(self, pack: Callable[[list[T]], Sequence[T]] | None = None) -> None:
        """No more events: listeners end once they have read everything. `pack` may keep them
        in less memory from now on (an ended run is kept for resumes for minutes)."""
        self._closed = True
        if pack is not None:
            self._kept = pack(self._events)
            self._events = []
        self._wake()

    def after(self, seq: int) -> list[T]:
        """The events after `seq` that are there now."""
        return list(self._kept[max(0, seq) :])

    async def follow(self, after: int) -> AsyncGenerator[list[tuple[int, T]], None]:
        """Batches of (seq, event) after `after`, live until the log is closed. A listener that
        falls behind gets everything that piled up in one batch."""
        cursor = max(0, after)
        self.listeners += 1
        try:
            while True:
                # A checkpoint per batch, even when more is already there: a listener that has
                # gone is cancelled here at once. (While appends keep waking this task, anyio's
                # delivery of a cancellation can keep finding it just woken, and wait until the
                # answer ends.) Meanwhile more events pile up into the next batch. It is what
                # anyio's checkpoint does on asyncio, without looking up the async library
                # first (3% of the CPU under load, at one batch per token).
                await asyncio.sleep(0)
                events = self._kept
                if cursor < len(events):
                    batch = list(enumerate(events[cursor:], start=cursor + 1))
                    cursor = len(events)
                    yield batch
                    continue
                if self._closed:
                    return
                waiter = asyncio.get_running_loop().create_future()
                self._waiting.append(waiter)
                try:
                    await waiter
                except asyncio.CancelledError:
                    # The listener left while waiting: not woken, so probably still listed.
                    with contextlib.suppress(ValueError):
                        self._waiting.remove(waiter)
                    raise
        finally:
            self.listeners -= 1

    def _wake(self) -> None:
        waiting, self._waiting = self._waiting, []
        for waiter in waiting:
            if not waiter.done():
                waiter.set_result(None)

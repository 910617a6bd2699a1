"""A timeout that a busy event loop does not trip on its own.

Under load one turn of the event loop can take longer than a short timeout, and a timer that
is due runs before the loop reads that turn's sockets: `asyncio.timeout` then gives up on a
reply that has already arrived, and a busy process takes its own lateness for a slow server.
Redis writes of 250 ms failed that way at 2,000 streams, with Redis answering in a millisecond.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

# Turns of the loop that a reply already in a socket needs to reach its awaiter: the loop reads
# it, the reader's future wakes the task that awaits it, that task finishes.
_GRACE_TURNS = 4


async def within(timeout_s: float, work: Awaitable[T]) -> T:
    """`work`'s result if it comes within `timeout_s`, else TimeoutError once `work` has been
    cancelled. When the time is up, the loop first gets a few more turns to read what arrived
    meanwhile (microseconds on an idle loop, a turn's length on a busy one)."""
    task = asyncio.ensure_future(work)
    try:
        await asyncio.wait([task], timeout=timeout_s)
        for _ in range(_GRACE_TURNS):
            if task.done():
                break
            await asyncio.sleep(0)
        if not task.done():
            raise TimeoutError
        return task.result()
    finally:
        if not task.done():
            task.cancel()
            # Its clean-up (redis-py drops a connection whose reply it did not read) is over
            # before the caller goes on.
            await asyncio.wait([task])

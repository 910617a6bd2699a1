"""A reply that Redis sends in time but this process reads late: its loop is busy for one long
turn, as under load, while the reply waits in the socket."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable
from typing import TypeVar

from redis import Redis

T = TypeVar("T")

# Keeps Redis (one thread) busy for ARGV[1] microseconds: what is sent meanwhile waits.
_BUSY = """
local started = redis.call('TIME')
local since = started[1] * 1000000 + started[2]
while true do
  local now = redis.call('TIME')
  if now[1] * 1000000 + now[2] - since >= tonumber(ARGV[1]) then return 1 end
end
"""


def _keep_busy(url: str, seconds: float, started: threading.Event) -> None:
    with Redis.from_url(url) as client:
        client.ping()
        started.set()
        client.eval(_BUSY, 0, round(seconds * 1_000_000))


async def through_a_busy_turn(url: str, work: Awaitable[T], *, turn_s: float = 0.4) -> T:
    """`work` (one Redis call, its connection already open), sent while Redis is busy for
    0.1 s, then a turn of this loop that blocks for `turn_s`: the reply comes at about 0.1 s,
    and when the loop looks again, any limit under `turn_s` is due as well."""
    started = threading.Event()
    busy = threading.Thread(target=_keep_busy, args=(url, 0.1, started))
    busy.start()
    try:
        started.wait()
        time.sleep(0.01)  # noqa: ASYNC251 - the script is running
        task = asyncio.ensure_future(work)
        for _ in range(5):  # the command is written
            await asyncio.sleep(0)
        time.sleep(turn_s)  # noqa: ASYNC251 - the busy turn this helper is about
        return await task
    finally:
        busy.join()

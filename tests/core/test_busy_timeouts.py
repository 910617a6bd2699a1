"""A short timeout on a busy event loop: a reply that came in time is taken, even when the
loop gets to it only after the timer; a reply that does not come is given up on."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from app.core.busy_timeouts import within


async def _read_reply(reader: socket.socket) -> bytes:
    return await asyncio.get_running_loop().sock_recv(reader, 100)


async def test_a_reply_that_came_in_time_is_taken_after_a_turn_longer_than_the_timeout() -> None:
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    # The server answers after 20 ms, while this process is busy for 400 ms in one turn of its
    # loop: when the loop looks again, the timer is due and the reply is in the socket.
    answer = threading.Timer(0.02, theirs.sendall, args=(b"OK",))
    try:
        reading = asyncio.ensure_future(within(0.25, _read_reply(ours)))
        await asyncio.sleep(0)  # the read is waiting
        answer.start()
        time.sleep(0.4)  # noqa: ASYNC251 - the busy turn this test is about
        reply = await reading
    finally:
        answer.join()
        ours.close()
        theirs.close()

    assert reply == b"OK"


async def test_a_reply_that_does_not_come_times_out_and_the_read_is_cancelled() -> None:
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    work = asyncio.ensure_future(_read_reply(ours))
    try:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await within(0.1, work)
        waited = time.monotonic() - started
    finally:
        ours.close()
        theirs.close()

    assert 0.1 <= waited < 1
    assert work.cancelled()

"""A run's log in the process: listeners get every event in order, in batches when they fall
behind, wake on each append and on the close, and leave nothing behind when they go."""

from __future__ import annotations

import asyncio

from app.runs.local import LocalRunLog


async def _read_all(log: LocalRunLog[str], after: int = 0) -> list[tuple[int, str]]:
    return [event async for batch in log.follow(after) for event in batch]


async def test_listeners_get_every_event_in_order_live_and_end_when_the_log_closes() -> None:
    log: LocalRunLog[str] = LocalRunLog()
    log.append("a")
    early, late = asyncio.ensure_future(_read_all(log)), asyncio.ensure_future(_read_all(log, 1))
    for event in ("b", "c"):
        await asyncio.sleep(0.01)  # the listeners are waiting
        log.append(event)
    await asyncio.sleep(0.01)
    log.close()

    assert await asyncio.wait_for(early, 1) == [(1, "a"), (2, "b"), (3, "c")]
    assert await asyncio.wait_for(late, 1) == [(2, "b"), (3, "c")]
    assert log.listeners == 0


async def test_a_listener_that_falls_behind_gets_what_piled_up_in_one_batch() -> None:
    log: LocalRunLog[str] = LocalRunLog()
    follow = log.follow(0)
    log.append("a")
    assert await anext(follow) == [(1, "a")]
    for event in ("b", "c", "d"):
        log.append(event)

    assert await anext(follow) == [(2, "b"), (3, "c"), (4, "d")]
    await follow.aclose()


async def test_a_listener_that_leaves_while_waiting_leaves_no_waiter_behind() -> None:
    log: LocalRunLog[str] = LocalRunLog()
    listeners = [asyncio.ensure_future(_read_all(log)) for _ in range(50)]
    await asyncio.sleep(0.01)
    for listener in listeners:
        listener.cancel()
    await asyncio.gather(*listeners, return_exceptions=True)

    # A run nobody appends to any more must not keep the listeners that came and went.
    assert log._waiting == []
    assert log.listeners == 0
    stayed = asyncio.ensure_future(_read_all(log))
    await asyncio.sleep(0.01)
    log.append("a")
    log.close()
    assert await asyncio.wait_for(stayed, 1) == [(1, "a")]

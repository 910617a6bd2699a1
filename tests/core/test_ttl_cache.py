"""The shared-miss cache behind key lookups and the lexical index's change checks."""

from __future__ import annotations

import asyncio

import pytest

from app.core.clock import ManualClock
from app.core.ttl_cache import TtlCache


class CountingLoad:
    """A load that waits until released, counting its calls."""

    def __init__(self, value: str = "v") -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.value = value

    async def __call__(self) -> str:
        self.calls += 1
        await self.release.wait()
        return f"{self.value}{self.calls}"


async def test_callers_that_miss_together_share_one_load() -> None:
    cache: TtlCache[str] = TtlCache(ManualClock(), ttl_s=10)
    load = CountingLoad()
    waiting = [asyncio.create_task(cache.get_or_load("k", load)) for _ in range(300)]
    await asyncio.sleep(0)
    load.release.set()

    assert set(await asyncio.gather(*waiting)) == {"v1"}
    assert load.calls == 1


async def test_a_value_is_kept_until_its_time_is_up_then_loaded_again() -> None:
    clock = ManualClock()
    cache: TtlCache[str] = TtlCache(clock, ttl_s=10)
    load = CountingLoad()
    load.release.set()

    first = await cache.get_or_load("k", load)
    clock.advance(9.9)
    kept = await cache.get_or_load("k", load)
    clock.advance(0.2)
    renewed = await cache.get_or_load("k", load)

    assert (first, kept, renewed) == ("v1", "v1", "v2")


async def test_with_no_ttl_nothing_is_kept_but_misses_are_still_shared() -> None:
    cache: TtlCache[str] = TtlCache(ManualClock(), ttl_s=0)
    load = CountingLoad()
    together = [asyncio.create_task(cache.get_or_load("k", load)) for _ in range(3)]
    await asyncio.sleep(0)
    load.release.set()

    assert set(await asyncio.gather(*together)) == {"v1"}
    assert await cache.get_or_load("k", load) == "v2"


async def test_a_load_that_began_before_clear_is_not_kept_after_it() -> None:
    # A key created while "no key exists" was being read must be seen at once.
    cache: TtlCache[str] = TtlCache(ManualClock(), ttl_s=10)
    stale = CountingLoad("stale")
    reading = asyncio.create_task(cache.get_or_load("any", stale))
    await asyncio.sleep(0)
    cache.clear()
    fresh = CountingLoad("fresh")
    fresh.release.set()
    stale.release.set()

    assert await reading == "stale1"  # the caller that asked before still gets its answer
    assert await cache.get_or_load("any", fresh) == "fresh1"


async def test_a_caller_that_leaves_does_not_cancel_the_load_for_the_others() -> None:
    cache: TtlCache[str] = TtlCache(ManualClock(), ttl_s=10)
    load = CountingLoad()
    leaving = asyncio.create_task(cache.get_or_load("k", load))
    staying = asyncio.create_task(cache.get_or_load("k", load))
    await asyncio.sleep(0)
    leaving.cancel()
    load.release.set()

    assert await staying == "v1"
    with pytest.raises(asyncio.CancelledError):
        await leaving


async def test_a_failed_load_reaches_every_caller_and_is_not_kept() -> None:
    cache: TtlCache[str] = TtlCache(ManualClock(), ttl_s=10)
    failing = asyncio.Event()

    async def broken() -> str:
        await failing.wait()
        raise ConnectionError("database down")

    together = [asyncio.create_task(cache.get_or_load("k", broken)) for _ in range(2)]
    await asyncio.sleep(0)
    failing.set()
    outcomes = await asyncio.gather(*together, return_exceptions=True)
    load = CountingLoad()
    load.release.set()

    assert all(isinstance(outcome, ConnectionError) for outcome in outcomes)
    assert await cache.get_or_load("k", load) == "v1"

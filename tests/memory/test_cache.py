"""The in-process LRU window cache, and how the cache is chosen."""

from __future__ import annotations

import uuid

from app.core.clock import ManualClock
from app.core.metrics import Metrics
from app.core.settings import RedisSettings
from app.memory.cache import LruWindowCache, build_window_cache
from app.memory.messages import HistoryMessage, MessageRole


def _window(text: str) -> list[HistoryMessage]:
    return [
        HistoryMessage(role=MessageRole.USER, content=f"Question {text}?"),
        HistoryMessage(role=MessageRole.ASSISTANT, content=f"Answer {text} [1]."),
    ]


async def test_lru_round_trip_and_invalidate() -> None:
    cache = LruWindowCache(max_sessions=4, ttl_s=60, clock=ManualClock())
    session = uuid.uuid4()
    assert await cache.get(session) is None

    await cache.put(session, _window("a"))
    assert await cache.get(session) == _window("a")

    await cache.invalidate(session)
    assert await cache.get(session) is None
    await cache.aclose()


async def test_lru_evicts_the_least_recently_used() -> None:
    cache = LruWindowCache(max_sessions=2, ttl_s=60, clock=ManualClock())
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await cache.put(first, _window("1"))
    await cache.put(second, _window("2"))
    assert await cache.get(first) is not None  # now `second` is the least recently used

    await cache.put(third, _window("3"))

    assert await cache.get(second) is None
    assert await cache.get(first) == _window("1")
    assert await cache.get(third) == _window("3")


async def test_lru_entries_expire() -> None:
    clock = ManualClock()
    cache = LruWindowCache(max_sessions=4, ttl_s=60, clock=clock)
    session = uuid.uuid4()
    await cache.put(session, _window("a"))
    clock.advance(59)
    assert await cache.get(session) is not None

    clock.advance(1)

    assert await cache.get(session) is None


async def test_build_picks_redis_only_when_configured() -> None:
    from app.memory.redis_cache import RedisWindowCache

    metrics, clock = Metrics(), ManualClock()
    assert isinstance(build_window_cache(RedisSettings(), metrics, clock), LruWindowCache)
    # Building the client does not connect, so no Redis is needed here.
    cache = build_window_cache(RedisSettings(url="redis://127.0.0.1:1/0"), metrics, clock)
    assert isinstance(cache, RedisWindowCache)
    await cache.aclose()

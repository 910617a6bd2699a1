"""The Redis window cache for real, including Redis going away and coming back."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis

from app.core.clock import ManualClock
from app.core.metrics import Metrics
from app.memory.messages import HistoryMessage, MessageRole
from app.memory.redis_cache import RedisWindowCache
from tests.support.busy_turns import through_a_busy_turn
from tests.support.services import redis_url
from tests.support.tcp_proxy import TcpProxy, running_proxy

TIMEOUT_S = 0.2
RETRY_AFTER_S = 0.3

MakeCache = Callable[..., RedisWindowCache]


def _window(text: str) -> list[HistoryMessage]:
    return [
        HistoryMessage(role=MessageRole.USER, content=f"Question {text}?"),
        HistoryMessage(role=MessageRole.ASSISTANT, content=f"Answer {text} [1]."),
    ]


def _sample(metrics: Metrics, name: str, labels: dict[str, str] | None = None) -> float:
    value = metrics.registry.get_sample_value(name, labels or {})
    assert value is not None
    return value


def _requests(metrics: Metrics, result: str) -> float:
    return _sample(metrics, "citestream_cache_requests_total", {"result": result})


def _errors(metrics: Metrics) -> float:
    return _sample(metrics, "citestream_cache_errors_total")


@pytest.fixture
def clock() -> ManualClock:
    """The breaker's clock: the tests move it past `retry_after_s` instead of sleeping."""
    return ManualClock()


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key namespace of this test's own in the test Redis, deleted afterwards."""
    namespace = f"citestream-test:{uuid.uuid4().hex}:window"
    yield namespace
    async with Redis.from_url(redis_url()) as client:
        keys = [key async for key in client.scan_iter(match=f"{namespace}:*")]
        if keys:
            await client.delete(*keys)


@pytest.fixture
async def raw_redis() -> AsyncIterator[Redis]:
    """A plain client on the test Redis, to look at what the cache wrote."""
    async with Redis.from_url(redis_url()) as client:
        yield client


@pytest.fixture
async def make_cache(prefix: str, clock: ManualClock) -> AsyncIterator[MakeCache]:
    caches: list[RedisWindowCache] = []

    def make(metrics: Metrics, url: str | None = None, ttl_s: int = 60) -> RedisWindowCache:
        cache = RedisWindowCache(
            url or redis_url(), ttl_s, TIMEOUT_S, RETRY_AFTER_S, metrics, clock, prefix=prefix
        )
        caches.append(cache)
        return cache

    yield make
    for cache in caches:
        await cache.aclose()


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    """A proxy in front of the test Redis, which a test can take down."""
    port = urlsplit(redis_url()).port
    assert port is not None
    async with running_proxy(port) as running:
        yield running


def _through(proxy: TcpProxy) -> str:
    url = urlsplit(redis_url())
    return url._replace(netloc=f"127.0.0.1:{proxy.port}").geturl()


async def test_redis_round_trip_with_ttl(
    make_cache: MakeCache, raw_redis: Redis, prefix: str
) -> None:
    metrics = Metrics()
    cache = make_cache(metrics, ttl_s=120)
    session = uuid.uuid4()

    await cache.put(session, _window("a"))

    assert await cache.get(session) == _window("a")
    assert _requests(metrics, "hit") == 1
    assert 0 < await raw_redis.ttl(f"{prefix}:{session}") <= 120


async def test_redis_miss_and_invalidate(
    make_cache: MakeCache, raw_redis: Redis, prefix: str
) -> None:
    metrics = Metrics()
    cache = make_cache(metrics)
    session = uuid.uuid4()

    assert await cache.get(session) is None
    assert _requests(metrics, "miss") == 1

    await cache.put(session, _window("a"))
    await cache.invalidate(session)

    assert await raw_redis.exists(f"{prefix}:{session}") == 0
    assert await cache.get(session) is None
    assert _requests(metrics, "miss") == 2
    assert _errors(metrics) == 0


async def test_a_window_redis_sent_in_time_is_served_after_a_turn_longer_than_the_timeout(
    make_cache: MakeCache,
) -> None:
    # Under load one turn of the loop can outlast the timeout; the reply is in the socket by
    # then, and taking it for an outage would send every request to the database for a while.
    metrics = Metrics()
    cache = make_cache(metrics)
    session = uuid.uuid4()
    await cache.put(session, _window("A"))

    assert await through_a_busy_turn(redis_url(), cache.get(session)) == _window("A")
    assert _errors(metrics) == 0
    assert await cache.get(session) == _window("A")


def _cache_logs(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "app.memory.redis_cache"]


async def test_redis_going_away_degrades_to_misses_then_recovers_without_stale_windows(
    make_cache: MakeCache,
    proxy: TcpProxy,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="app.memory.redis_cache")
    metrics = Metrics()
    cache = make_cache(metrics, url=_through(proxy))
    session, other = uuid.uuid4(), uuid.uuid4()
    await cache.put(session, _window("A"))
    await cache.put(other, _window("other"))
    assert await cache.get(session) == _window("A")

    await proxy.pause()
    for _ in range(3):
        assert await cache.get(session) is None
        await cache.put(session, _window("B"))  # skipped: the database has B
        await cache.invalidate(other)  # skipped too

    assert _errors(metrics) == 9
    assert _requests(metrics, "error") == 3
    assert [r.levelno for r in _cache_logs(caplog)] == [logging.WARNING]

    await proxy.resume()
    clock.advance(RETRY_AFTER_S)

    # Neither the window superseded by B nor the one that should have been invalidated is served.
    assert await cache.get(session) is None
    assert await cache.get(other) is None
    await cache.put(session, _window("C"))
    assert await cache.get(session) == _window("C")
    assert [r.levelno for r in _cache_logs(caplog)] == [logging.WARNING, logging.INFO]


async def test_a_stalled_redis_costs_one_timeout_then_the_circuit_is_open(
    make_cache: MakeCache, proxy: TcpProxy, clock: ManualClock
) -> None:
    metrics = Metrics()
    cache = make_cache(metrics, url=_through(proxy))
    session = uuid.uuid4()
    await cache.put(session, _window("A"))

    proxy.stall()
    started = time.monotonic()
    assert await cache.get(session) is None
    assert time.monotonic() - started >= TIMEOUT_S * 0.9  # it waited for the timeout
    # Within retry_after_s, Redis is not even tried: not a byte reaches it.
    sent = proxy.received_from_clients
    clock.advance(RETRY_AFTER_S * 0.9)
    assert await cache.get(session) is None
    await cache.put(session, _window("B"))
    assert proxy.received_from_clients == sent
    assert _errors(metrics) == 3

    await proxy.resume()
    clock.advance(RETRY_AFTER_S)

    assert await cache.get(session) is None
    await cache.put(session, _window("C"))
    assert await cache.get(session) == _window("C")


async def test_another_instance_stops_serving_what_the_outage_made_stale(
    make_cache: MakeCache, proxy: TcpProxy, clock: ManualClock
) -> None:
    cut_off = make_cache(Metrics(), url=_through(proxy))  # loses Redis for a while
    connected = make_cache(Metrics())  # keeps it all along
    session = uuid.uuid4()
    await cut_off.put(session, _window("A"))
    assert await connected.get(session) == _window("A")

    await proxy.pause()
    await cut_off.put(session, _window("B"))  # skipped
    await proxy.resume()
    clock.advance(RETRY_AFTER_S)
    await cut_off.invalidate(uuid.uuid4())  # any call lets the cut-off instance recover

    assert await connected.get(session) is None

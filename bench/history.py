"""What loading a 200-message history costs a follow-up's time to first token. Prints numbers.

On PostgreSQL (the production database), for a session of 200 messages:
1. `store.history()` directly: a cache miss (read from PostgreSQL), a Redis hit, an LRU hit.
2. Time to first `message` over HTTP for a follow-up on that session versus one on a 2-message
   session (the same path, a different history), with Redis and without it (in-process LRU).
   The fake model answers at 0 ms per token, with one-token condensing.

Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379.
Usage: `uv run python -m bench.history --runs 200`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
from httpx_sse import aconnect_sse

from app.cli.local_files import ingest_paths
from app.core.clock import SystemClock
from app.core.database import Database
from app.core.metrics import Metrics
from app.core.migrations import upgrade_to_head
from app.core.settings import DatabaseSettings, LLMSettings, RedisSettings, Settings
from app.lifecycle import running_container
from app.memory.cache import LruWindowCache
from app.memory.claims import SessionClaims
from app.memory.history import ConversationHistory
from app.memory.messages import MessageStatus, TurnOutcome
from app.memory.redis_cache import RedisWindowCache
from app.memory.turns import TurnStore
from bench.servers import PROJECT
from tests.support.server import serve

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/14"
MESSAGES = 200


async def _seed(
    claims: SessionClaims, turns: TurnStore, session_id: uuid.UUID, messages: int
) -> None:
    hold = timedelta(minutes=5)
    for turn in range(messages // 2):
        answer_id = uuid.uuid4()
        if turn:
            await claims.claim(session_id, answer_id, hold)
        await turns.begin(
            session_id, answer_id, f"Question {turn} about streams?", hold, new_session=turn == 0
        )
        outcome = TurnOutcome(
            content=f"Answer {turn}: close the connection to stop the stream [1]. " * 4,
            status=MessageStatus.COMPLETE,
            sources=[],
            error_code=None,
            token_count=40,
            latency_ms=100,
        )
        await turns.finish(session_id, answer_id, outcome)


async def _time(call: Callable[[], Awaitable[object]], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


def _report(name: str, samples: list[float]) -> float:
    ms = sorted(s * 1000 for s in samples)
    p50 = statistics.median(ms)
    print(
        f"{name:<58} n={len(ms):<4} p50={p50:7.2f} ms  p95={ms[int(0.95 * (len(ms) - 1))]:7.2f} ms"
    )
    return p50


async def _first_message(client: httpx.AsyncClient, body: dict[str, str]) -> None:
    async with aconnect_sse(client, "POST", "/api/chat/stream", json=body) as source:
        async for sse in source.aiter_sse():
            if sse.event == "message":
                break


async def _ttft(
    settings: Settings, long: uuid.UUID, short: uuid.UUID, runs: int, label: str
) -> None:
    """Follow-ups on a 200-message and a 2-message session: the same path, different history."""
    async with serve(settings) as server, httpx.AsyncClient(base_url=server.url) as client:

        def follow(session_id: uuid.UUID) -> Callable[[], Awaitable[None]]:
            body = {"query": "How do I cancel a stream?", "session_id": str(session_id)}

            async def ask() -> None:
                await _first_message(client, body)
                await server.wait_for_metric("citestream_active_streams", 0)  # session free

            return ask

        await follow(long)()  # a first read fills the cache, as in a running conversation
        await follow(short)()
        small = await _time(follow(short), runs)
        base = _report(f"TTFT follow-up, 2-message session ({label})", small)
        large = await _time(follow(long), runs)
        big = _report(f"TTFT follow-up, {MESSAGES}-message session ({label})", large)
        print(f"{'':<58} {MESSAGES} messages add p50 {big - base:+.2f} ms")


async def main(runs: int) -> None:
    name = f"citestream_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    try:
        await asyncio.to_thread(upgrade_to_head, url)
        database = Database(DatabaseSettings(url=url))
        clock = SystemClock()
        redis = RedisWindowCache(
            REDIS, ttl_s=600, timeout_s=0.25, retry_after_s=2, metrics=Metrics(), clock=clock
        )
        lru = LruWindowCache(max_sessions=64, ttl_s=600, clock=clock)
        histories = {
            "PostgreSQL (cache miss)": ConversationHistory(database, lru, 10),
            "Redis hit": ConversationHistory(database, redis, 10),
            "in-process LRU hit": ConversationHistory(database, lru, 10),
        }
        claims = SessionClaims(database, clock)
        turns = TurnStore(database, histories["Redis hit"], clock)
        session_id, short_session = uuid.uuid4(), uuid.uuid4()
        await _seed(claims, turns, session_id, MESSAGES)
        await _seed(claims, turns, short_session, 2)
        print(f"history load, {MESSAGES}-message session (window of 10):")

        async def miss() -> None:
            await lru.invalidate(session_id)
            await histories["PostgreSQL (cache miss)"].recent(session_id, 10)

        _report("  history.recent, PostgreSQL (cache miss)", await _time(miss, runs))
        for label in ("Redis hit", "in-process LRU hit"):
            await histories[label].recent(session_id, 10)  # fill

            async def hit(label: str = label) -> None:
                await histories[label].recent(session_id, 10)

            _report(f"  history.recent, {label}", await _time(hit, runs))
        await redis.aclose()
        await database.aclose()

        with tempfile.TemporaryDirectory() as scratch:
            settings = Settings(
                _env_file=None,
                data_dir=Path(scratch),
                llm=LLMSettings(provider="fake", fake_delay_ms=0, fake_tokens=1),
                database=DatabaseSettings(url=url),
            )
            settings.database.auto_migrate = True
            async with running_container(settings) as container:
                await ingest_paths(container, [PROJECT / "docs"])
            settings.redis = RedisSettings(url=REDIS)
            follow_ups = max(20, runs // 5)
            await _ttft(settings, session_id, short_session, follow_ups, "PostgreSQL + Redis")
            settings.redis = RedisSettings()
            await _ttft(settings, session_id, short_session, follow_ups, "PostgreSQL, no Redis")
    finally:
        admin = await asyncpg.connect(ADMIN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="History loading benchmark")
    parser.add_argument("--runs", type=int, default=200)
    asyncio.run(main(parser.parse_args().runs))

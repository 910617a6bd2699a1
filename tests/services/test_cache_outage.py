"""Redis going away mid-run fails no request: the conversation continues from the database."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from tests.conftest import MakeSettings
from tests.support.server import serve
from tests.support.services import redis_url
from tests.support.tcp_proxy import running_proxy


async def test_requests_keep_working_while_redis_is_away_and_the_cache_recovers(
    make_settings: MakeSettings, caplog: pytest.LogCaptureFixture
) -> None:
    redis_port = int(redis_url().rsplit(":", 1)[1].split("/")[0])
    async with running_proxy(redis_port) as proxy:
        settings = make_settings(llm={"fake_tokens": 8})
        settings.redis.url = f"redis://127.0.0.1:{proxy.port}/15"
        # Long enough that the four questions below fit in one retry period even on a busy
        # machine: each part that uses Redis then warns exactly once.
        settings.redis.retry_after_s = 2.0
        async with (
            serve(settings) as server,
            httpx.AsyncClient(base_url=server.url, timeout=30) as client,
        ):

            async def ask(session_id: str | None) -> httpx.Response:
                body = {"query": "How do I cancel a stream?"}
                if session_id:
                    body["session_id"] = session_id
                return await client.post("/api/chat", json=body)

            first = await ask(None)
            session = first.json()["session_id"]
            await ask(session)
            hits_before = await server.metric("citestream_cache_requests_total", result="hit")
            assert hits_before >= 1  # the window is being served from Redis

            await proxy.pause()  # Redis goes away: connections cut, new ones refused
            with caplog.at_level(logging.WARNING):
                during = [await ask(session) for _ in range(4)]
            assert [r.status_code for r in during] == [200] * 4
            assert await server.metric("citestream_cache_errors_total") > 0
            # One warning from each part that uses Redis, not one per request.
            warned = [r.name for r in caplog.records if r.levelno == logging.WARNING]
            assert warned.count("app.memory.redis_cache") == 1
            assert set(warned) <= {
                "app.memory.redis_cache",
                "app.runs.redis_mirror",
                "app.runs.redis_presence",
            }
            assert len(warned) <= 3

            await proxy.resume()
            await asyncio.sleep(2.1)  # past retry_after_s: Redis is tried again
            after = [await ask(session) for _ in range(3)]
            assert [r.status_code for r in after] == [200] * 3
            hits_after = await server.metric("citestream_cache_requests_total", result="hit")
            assert hits_after > hits_before  # the cache serves again

            history = (await client.get(f"/api/sessions/{session}", params={"limit": 100})).json()

    # Every turn, including those answered during the outage, is in the history once.
    users = [m for m in history["messages"]["items"] if m["role"] == "user"]
    assert len(users) == 2 + 4 + 3

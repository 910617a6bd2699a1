"""A run's principal travels with it through Redis: on another worker, another key still finds
nothing (404), while its owner and an admin follow it there."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.conftest import MakeSettings
from tests.support.keys import bearer, create_key
from tests.support.server import serve
from tests.support.services import redis_url
from tests.support.sse import collect


async def test_another_key_finds_no_run_on_another_worker(
    make_settings: MakeSettings, postgres_url: str
) -> None:
    # Lookups uncached: the second worker must see the keys made through the first at once
    # (with the default 10 s cache, it would within 10 s).
    settings = make_settings(
        database_url=postgres_url, redis={"url": redis_url()}, auth={"key_cache_ttl_s": 0}
    )
    async with serve(settings) as first, serve(settings) as second:
        owner_key = await create_key(first.container, "owner")
        other_key = await create_key(first.container, "other")
        admin_key = await create_key(first.container, "operator", admin=True)

        def client(key: str) -> httpx.AsyncClient:
            return httpx.AsyncClient(base_url=second.url, headers=bearer(key), timeout=120)

        async with httpx.AsyncClient(
            base_url=first.url, headers=bearer(owner_key), timeout=120
        ) as on_first:
            started = await on_first.post(
                "/api/runs", json={"query": "Penguins?", "background": True}
            )
            assert started.status_code == 202
            run: dict[str, Any] = started.json()
            while (await on_first.get(f"/api/runs/{run['run_id']}")).json()[  # noqa: ASYNC110 - polling over HTTP
                "status"
            ] == "running":
                await asyncio.sleep(0.01)
        assert (
            second.container.run_service()._runs.get(run["run_id"]) is None
        )  # the premise: remote

        path = f"/api/runs/{run['run_id']}"
        async with client(other_key) as other:
            assert (await other.get(path)).status_code == 404
            assert (await other.get(f"{path}/events")).status_code == 404
            assert (await other.post(f"{path}/cancel")).status_code == 404
            listed = await other.get("/api/runs", params={"session_id": run["session_id"]})
            assert listed.json()["items"] == []
        async with client(owner_key) as owner, client(admin_key) as admin:
            assert (await owner.get(path)).json()["status"] == "completed"
            events = await collect(owner, "GET", f"{path}/events")
            assert events[-1].event == "source"
            assert (await admin.get(path)).status_code == 200

"""Several worker processes on one PostgreSQL and one Redis: one answer at a time per session,
and every turn recorded once, in order, whichever worker served it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from httpx_sse import aconnect_sse

from app.core.migrations import upgrade_to_head
from tests.conftest import MakeSettings
from tests.support.processes import Worker, shared_state_env, worker_processes
from tests.support.sse import decode


async def test_a_session_answering_on_one_worker_is_a_conflict_on_another(
    make_settings: MakeSettings, postgres_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(upgrade_to_head, postgres_url)
    env = shared_state_env(make_settings, postgres_url, tokens=32, delay_ms=30)
    with worker_processes(2, env, tmp_path) as workers:
        first, second = (worker.url for worker in workers)
        async with httpx.AsyncClient(timeout=30) as client:
            opened = (await client.post(f"{first}/api/chat", json={"query": "hello"})).json()
            session = opened["session_id"]
            follow_up = {"query": "How do I cancel a stream?", "session_id": session}
            async with aconnect_sse(
                client, "POST", f"{first}/api/chat/stream", json=follow_up
            ) as source:
                stream = source.aiter_sse()
                assert decode(await anext(stream)).event == "meta"
                clash = await client.post(f"{second}/api/chat/stream", json=follow_up)
                same_worker = await client.post(f"{first}/api/chat", json=follow_up)
                rest = [decode(sse).event async for sse in stream]
            after = await client.post(f"{second}/api/chat", json=follow_up)

    for response in (clash, same_worker):
        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"
        assert "still answering" in response.json()["detail"]
    assert rest[-1] == "source"
    assert after.status_code == 200  # the session is free again once the answer ended


async def test_a_conversation_alternating_between_workers_keeps_every_turn_once_in_order(
    make_settings: MakeSettings, postgres_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(upgrade_to_head, postgres_url)
    env = shared_state_env(make_settings, postgres_url, tokens=32, delay_ms=10)
    questions = [f"Question {n} about cancelling a stream?" for n in range(6)]
    with worker_processes(2, env, tmp_path) as workers:
        async with httpx.AsyncClient(timeout=30) as client:
            session: str | None = None
            for number, question in enumerate(questions):
                worker = workers[number % 2]
                body = {"query": question, **({"session_id": session} if session else {})}
                async with aconnect_sse(
                    client, "POST", f"{worker.url}/api/chat/stream", json=body
                ) as source:
                    seen = 0
                    async for sse in source.aiter_sse():
                        if sse.event == "meta":
                            session = decode(sse).data["session_id"]
                        seen += 1
                        if number == 3 and seen == 4:  # leave turn 3 half-way
                            break
                if number == 3:
                    await _wait_until_free(client, workers, session)
            history = (
                await client.get(f"{workers[1].url}/api/sessions/{session}", params={"limit": 100})
            ).json()

    messages = history["messages"]["items"]
    assert [m["content"] for m in messages if m["role"] == "user"] == questions
    assert [m["role"] for m in messages] == ["user", "assistant"] * 6
    statuses = [m["status"] for m in messages if m["role"] == "assistant"]
    assert statuses == ["complete"] * 3 + ["interrupted"] + ["complete"] * 2


async def _wait_until_free(
    client: httpx.AsyncClient, workers: list[Worker], session: str | None
) -> None:
    # The interrupted turn is saved by the worker after it notices the disconnect.
    for _ in range(200):
        page = (
            await client.get(f"{workers[0].url}/api/sessions/{session}", params={"limit": 100})
        ).json()
        if page["messages"]["items"][-1]["status"] != "streaming":
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the interrupted turn was never saved")

"""Runs across two worker processes on one PostgreSQL and one Redis: follow on one worker a run
that the other executes, resume it anywhere, cancel it from anywhere, and notice when its
worker dies."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from app.core.migrations import upgrade_to_head
from app.memory.messages import MessageStatus
from tests.conftest import MakeSettings
from tests.support.processes import shared_state_env, worker_processes
from tests.support.sse import answer_text, collect, sequence_numbers

QUESTION = {"query": "How do I cancel a stream?"}


def _env(make_settings: MakeSettings, postgres_url: str, tokens: int) -> dict[str, str]:
    return shared_state_env(make_settings, postgres_url, tokens=tokens, RUNS__LIVENESS_TTL_S="1")


async def _metric(client: httpx.AsyncClient, url: str, name: str, **labels: str) -> float:
    text = (await client.get(f"{url}/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise AssertionError(f"no {name} {labels}")


async def _tokens(client: httpx.AsyncClient, url: str) -> float:
    return await _metric(client, url, "citestream_llm_tokens_total")


async def _stored_answer(client: httpx.AsyncClient, url: str, session_id: str) -> dict[str, Any]:
    session = (await client.get(f"{url}/api/sessions/{session_id}")).json()
    answer: dict[str, Any] = session["messages"]["items"][-1]
    return answer


async def test_follow_on_one_worker_resume_on_the_other_and_lose_nothing(
    make_settings: MakeSettings, postgres_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(upgrade_to_head, postgres_url)
    with worker_processes(2, _env(make_settings, postgres_url, 60), tmp_path) as (a, b):
        async with httpx.AsyncClient(timeout=60) as client:
            started = (await client.post(f"{a.url}/api/runs", json=QUESTION)).json()
            events = f"/api/runs/{started['run_id']}/events"
            on_b = await collect(client, "GET", f"{b.url}{events}", stop_after=8)  # then cut
            rest_on_a = await collect(
                client, "GET", f"{a.url}{events}", headers={"Last-Event-ID": on_b[-1].id}
            )
            whole_on_b = await collect(client, "GET", f"{b.url}{events}")
            status_on_b = (await client.get(f"{b.url}/api/runs/{started['run_id']}")).json()
            stored = await _stored_answer(client, b.url, started["session_id"])

    joined = on_b + rest_on_a
    assert sequence_numbers(joined) == list(range(1, len(joined) + 1))  # none missing, none twice
    assert joined[-1].event == "source"
    assert answer_text(joined) == stored["content"]
    assert [(e.event, e.data) for e in whole_on_b] == [(e.event, e.data) for e in joined]
    assert status_on_b["status"] == "completed"


async def test_a_cancel_sent_to_one_worker_stops_the_model_on_the_other(
    make_settings: MakeSettings, postgres_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(upgrade_to_head, postgres_url)
    with worker_processes(2, _env(make_settings, postgres_url, 2000), tmp_path) as (a, b):
        async with httpx.AsyncClient(timeout=60) as client:
            started = (await client.post(f"{a.url}/api/runs", json=QUESTION)).json()
            events = f"/api/runs/{started['run_id']}/events"
            listeners = [
                asyncio.create_task(collect(client, "GET", f"{url}{events}"))
                for url in (a.url, b.url)
            ]
            while await _tokens(client, a.url) < 10:  # noqa: ASYNC110 - polling over HTTP
                await asyncio.sleep(0.02)
            seen_from_b = (await client.get(f"{b.url}/api/runs/{started['run_id']}")).json()
            cancelled = (await client.post(f"{b.url}/api/runs/{started['run_id']}/cancel")).json()
            at_cancel = await _tokens(client, a.url)
            received = await asyncio.gather(*listeners)
            await asyncio.sleep(0.5)  # 25 token-times: a model still running would show
            after = await _tokens(client, a.url)
            stored = await _stored_answer(client, a.url, started["session_id"])
            counted = [
                await _metric(client, url, "citestream_run_cancels_total", origin="api")
                for url in (a.url, b.url)
            ]

    assert seen_from_b["status"] == "running"
    assert seen_from_b["first_token_at"] is not None  # the owner says so through Redis
    assert cancelled["status"] == "cancelled"
    assert counted == [1, 0]  # counted once, by the worker that stopped it
    assert after == at_cancel < 2000  # the owner's model stopped before the cancel returned
    for listened in received:
        assert listened[-1].event == "error"
        assert listened[-1].data["code"] == "cancelled"
        # Every event up to the cancellation, none missing, on the owner and through Redis.
        assert sequence_numbers(listened) == list(range(1, len(listened) + 1))
    assert [(e.event, e.data) for e in received[1]] == [(e.event, e.data) for e in received[0]]
    assert stored["status"] == MessageStatus.INTERRUPTED
    assert stored["content"] == answer_text(received[0])


async def test_when_the_owner_dies_listeners_elsewhere_hear_it(
    make_settings: MakeSettings, postgres_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(upgrade_to_head, postgres_url)
    with worker_processes(2, _env(make_settings, postgres_url, 2000), tmp_path) as (a, b):
        async with httpx.AsyncClient(timeout=60) as client:
            started = (await client.post(f"{a.url}/api/runs", json=QUESTION)).json()
            events = f"{b.url}/api/runs/{started['run_id']}/events"
            listening = asyncio.create_task(collect(client, "GET", events))
            while await _tokens(client, a.url) < 10:  # noqa: ASYNC110 - polling over HTTP
                await asyncio.sleep(0.02)
            a.process.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            heard = await listening
            heard_after_s = time.monotonic() - killed_at
            state = (await client.get(f"{b.url}/api/runs/{started['run_id']}")).json()
            stored = await _stored_answer(client, b.url, started["session_id"])
            again = {**QUESTION, "session_id": started["session_id"]}
            retry = await client.post(f"{b.url}/api/runs", json=again)
            await client.post(f"{b.url}/api/runs/{retry.json()['run_id']}/cancel")

    assert heard[-1].event == "error"
    assert heard[-1].data["code"] == "worker_lost"
    # The liveness key lives 1 s here, and a listener looks every second: well under 5 s.
    assert heard_after_s < 5
    assert state["status"] == "failed"
    assert state["error_code"] == "worker_lost"
    assert stored["status"] == MessageStatus.INTERRUPTED
    assert stored["content"] == answer_text(heard)
    assert retry.status_code == 202  # the dead worker's session was freed


async def test_a_run_whose_worker_died_unwatched_reads_failed_when_asked(
    make_settings: MakeSettings, postgres_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(upgrade_to_head, postgres_url)
    with worker_processes(2, _env(make_settings, postgres_url, 2000), tmp_path) as (a, b):
        async with httpx.AsyncClient(timeout=60) as client:
            started = (
                await client.post(f"{a.url}/api/runs", json={**QUESTION, "background": True})
            ).json()
            while await _tokens(client, a.url) < 10:  # noqa: ASYNC110 - polling over HTTP
                await asyncio.sleep(0.02)
            a.process.send_signal(signal.SIGKILL)
            async with asyncio.timeout(60):  # the liveness key lives 1 s here
                while (  # noqa: ASYNC110 - polling over HTTP
                    state := (await client.get(f"{b.url}/api/runs/{started['run_id']}")).json()
                )["status"] == "running":
                    await asyncio.sleep(0.2)
            stored = await _stored_answer(client, b.url, started["session_id"])
            replay = await collect(client, "GET", f"{b.url}/api/runs/{started['run_id']}/events")

    assert (state["status"], state["error_code"]) == ("failed", "worker_lost")
    assert replay[-1].data["code"] == "worker_lost"
    assert stored["status"] == MessageStatus.INTERRUPTED
    assert stored["content"] == answer_text(replay)

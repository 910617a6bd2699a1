"""Runs: an answer with an id, followed, replayed, inspected and cancelled over HTTP, on a real
uvicorn server. Time (retention, orphan grace) is moved on a manual clock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from dependency_injector import providers

from app.container import Container
from app.core.clock import ManualClock
from app.core.settings import Settings
from app.memory.messages import MessageStatus
from tests.conftest import MakeSettings
from tests.support.server import LiveServer, serve
from tests.support.services import redis_url
from tests.support.sse import answer_text, collect, sequence_numbers
from tests.support.stored import stored_messages
from tests.support.tcp_proxy import running_proxy

QUESTION = {"query": "How do I cancel a stream?"}


@asynccontextmanager
async def on_a_manual_clock(settings: Settings) -> AsyncIterator[tuple[LiveServer, ManualClock]]:
    """A server whose clock the test moves; its supervisor looks at runs every 10 ms."""
    settings.runs.supervise_every_s = 0.01
    clock = ManualClock()
    container = Container(settings=settings)
    container.clock.override(providers.Object(clock))
    async with serve(settings, container) as server:
        yield server, clock


async def _start(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/runs", json={**QUESTION, **body})
    assert response.status_code == 202, response.text
    started: dict[str, Any] = response.json()
    return started


async def _state(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/runs/{run_id}")
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()
    return state


async def _until_finished(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while (state := await _state(client, run_id))["status"] == "running":  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    return state


async def test_a_run_starts_answers_and_can_be_read_whole_afterwards(
    make_settings: MakeSettings,
) -> None:
    async with (
        serve(make_settings(llm={"fake_tokens": 16})) as server,
        server.client() as client,
    ):
        started = await _start(client)
        events = await collect(client, "GET", started["events_url"])
        state = await _state(client, started["run_id"])
        again = await collect(client, "GET", started["events_url"])  # replayable when finished
        stored = await stored_messages(server.container.database(), started["session_id"])

    assert set(started) == {"run_id", "session_id", "message_id", "events_url", "cancel_url"}
    assert started["events_url"].endswith(f"/api/runs/{started['run_id']}/events")
    assert started["cancel_url"].endswith(f"/api/runs/{started['run_id']}/cancel")
    assert events[0].event == "meta"
    assert events[0].data == {
        "session_id": started["session_id"],
        "message_id": started["message_id"],
        "run_id": started["run_id"],
    }
    assert events[-1].event == "source"
    assert sequence_numbers(events) == list(range(1, len(events) + 1))
    assert again == events
    assert answer_text(events) == stored[-1].content
    assert state["status"] == "completed"
    assert state["error_code"] is None
    assert state["created_at"] <= state["first_token_at"] <= state["finished_at"]


async def test_a_listener_resumes_with_exactly_the_events_after_the_last_it_saw(
    make_settings: MakeSettings,
) -> None:
    async with (
        serve(make_settings(llm={"fake_tokens": 40, "fake_delay_ms": 10})) as server,
        server.client() as client,
    ):
        started = await _start(client)
        url = started["events_url"]
        first = await collect(client, "GET", url, stop_after=6)
        last_seen = first[-1].id
        by_header = await collect(client, "GET", url, headers={"Last-Event-ID": last_seen})
        by_query = await collect(client, "GET", url, params={"last_event_id": last_seen})
        whole = await collect(client, "GET", url)
        replayed = await server.metric("citestream_run_replayed_events_total")

    assert sequence_numbers(first + by_header) == sequence_numbers(whole)
    assert by_query == by_header
    assert answer_text(first + by_header) == answer_text(whole)
    assert by_header[-1].event == "source"
    assert replayed >= len(by_header)


async def test_a_listener_past_the_final_event_is_told_there_is_nothing_more(
    make_settings: MakeSettings,
) -> None:
    async with (
        serve(make_settings(llm={"fake_tokens": 8})) as server,
        server.client() as client,
    ):
        started = await _start(client)
        events = await collect(client, "GET", started["events_url"])
        after_all = await client.get(
            started["events_url"], headers={"Last-Event-ID": events[-1].id}
        )
        before_last = await collect(
            client, "GET", started["events_url"], headers={"Last-Event-ID": events[-2].id}
        )
    # An EventSource that stays open after `source` reconnects: 204 stops it.
    assert after_all.status_code == 204
    assert before_last == events[-1:]


async def test_any_number_of_listeners_get_the_same_events(make_settings: MakeSettings) -> None:
    async with (
        serve(make_settings(llm={"fake_tokens": 30, "fake_delay_ms": 5})) as server,
        server.client() as client,
    ):
        started = await _start(client)
        listeners = await asyncio.gather(
            *(collect(client, "GET", started["events_url"]) for _ in range(5))
        )
    assert all(events == listeners[0] for events in listeners)
    assert listeners[0][-1].event == "source"


async def test_cancel_stops_the_model_and_ends_every_listener_with_cancelled(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(llm={"fake_tokens": 400, "fake_delay_ms": 10})
    async with serve(settings) as server, server.client() as client:
        started = await _start(client)
        listening = asyncio.create_task(collect(client, "GET", started["events_url"]))
        await server.wait_for_metric_at_least("citestream_llm_tokens_total", 5)
        cancelled = await client.post(started["cancel_url"])
        events = await listening
        settled = await server.metric("citestream_llm_tokens_total")
        await asyncio.sleep(0.3)  # 30 token-times: a model still running would show
        produced = await server.metric("citestream_llm_tokens_total")
        again = await client.post(started["cancel_url"])
        stored = await stored_messages(server.container.database(), started["session_id"])
        cancels = await server.metric("citestream_run_cancels_total", origin="api")

    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["error_code"] == "cancelled"
    assert events[-1].event == "error"
    assert events[-1].data["code"] == "cancelled"
    assert produced == settled < 400
    assert stored[-1].status == MessageStatus.INTERRUPTED
    assert stored[-1].content == answer_text(events)
    assert again.json() == cancelled.json()  # cancelling a finished run changes nothing
    assert cancels == 1


async def test_cancelling_a_completed_run_changes_nothing(make_settings: MakeSettings) -> None:
    async with (
        serve(make_settings(llm={"fake_tokens": 8})) as server,
        server.client() as client,
    ):
        started = await _start(client)
        finished = await _until_finished(client, started["run_id"])
        response = await client.post(started["cancel_url"])
        stored = await stored_messages(server.container.database(), started["session_id"])
    assert response.json() == finished
    assert finished["status"] == "completed"
    assert stored[-1].status == MessageStatus.COMPLETE


async def test_requests_are_checked_before_anything_starts(make_settings: MakeSettings) -> None:
    settings = make_settings(llm={"fake_tokens": 200, "fake_delay_ms": 10})
    async with serve(settings) as server, server.client() as client:
        blank = await client.post("/api/runs", json={"query": "  "})
        unknown_session = await client.post(
            "/api/runs", json={**QUESTION, "session_id": str(uuid.uuid4())}
        )
        unknown_collection = await client.post(
            "/api/runs", json={**QUESTION, "collection": "nowhere"}
        )
        started = await _start(client)
        busy = await client.post(
            "/api/runs", json={**QUESTION, "session_id": started["session_id"]}
        )
        unknown_run = await client.get(f"/api/runs/{uuid.uuid4()}")
        unknown_events = await client.get(f"/api/runs/{uuid.uuid4()}/events")
        bad_last_event = await client.get(
            started["events_url"], headers={"Last-Event-ID": "yesterday"}
        )
        await client.post(started["cancel_url"])

    assert (blank.status_code, blank.json()["code"]) == (422, "invalid_input")
    assert unknown_session.status_code == 404
    assert unknown_collection.status_code == 404
    assert (busy.status_code, busy.json()["code"]) == (409, "conflict")
    assert unknown_run.status_code == unknown_events.status_code == 404
    assert unknown_run.headers["content-type"] == "application/problem+json"
    assert bad_last_event.status_code == 422


async def test_a_run_nobody_listens_to_is_cancelled_after_the_orphan_grace_not_before(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(llm={"fake_tokens": 2000, "fake_delay_ms": 5})
    settings.runs.orphan_grace_s = 10
    async with (
        on_a_manual_clock(settings) as (server, clock),
        server.client() as client,
    ):
        started = await _start(client)
        clock.advance(9)
        await asyncio.sleep(0.2)  # twenty supervisor rounds
        before = await _state(client, started["run_id"])
        clock.advance(1)
        after = await _until_finished(client, started["run_id"])
        orphaned = await server.metric("citestream_run_cancels_total", origin="orphaned")
        stored = await stored_messages(server.container.database(), started["session_id"])

    assert before["status"] == "running"
    assert after["status"] == "cancelled"
    assert orphaned == 1
    assert stored[-1].status == MessageStatus.INTERRUPTED


async def test_a_listener_keeps_a_run_alive_and_a_background_run_needs_none(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(llm={"fake_tokens": 40, "fake_delay_ms": 10})
    settings.runs.orphan_grace_s = 1
    async with (
        on_a_manual_clock(settings) as (server, clock),
        server.client() as client,
    ):
        followed = await _start(client)
        background = await _start(client, background=True)
        listening = asyncio.create_task(collect(client, "GET", followed["events_url"]))
        await server.wait_for_metric("citestream_run_listeners", 1)
        clock.advance(60)  # far past the grace, for both
        events = await listening
        alone = await _until_finished(client, background["run_id"])

    assert events[-1].event == "source"
    assert alone["status"] == "completed"


async def test_a_finished_run_is_forgotten_after_the_retention(make_settings: MakeSettings) -> None:
    settings = make_settings(llm={"fake_tokens": 8})
    settings.runs.retention_s = 600
    async with (
        on_a_manual_clock(settings) as (server, clock),
        server.client() as client,
    ):
        started = await _start(client)
        await _until_finished(client, started["run_id"])
        clock.advance(599)
        await asyncio.sleep(0.1)
        kept = await client.get(started["events_url"])
        clock.advance(1)
        async with asyncio.timeout(60):
            status_url = f"/api/runs/{started['run_id']}"
            while (gone := await client.get(status_url)).status_code == 200:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        events_gone = await client.get(started["events_url"])

    assert kept.status_code == 200
    assert gone.status_code == events_gone.status_code == 404


def _redis_port() -> int:
    return int(redis_url().rsplit(":", 1)[1].split("/")[0])


async def test_with_redis_a_finished_run_leaves_memory_and_is_replayed_from_redis(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(
        llm={"fake_tokens": 12, "fake_delay_ms": 5}, redis={"url": redis_url()}
    )
    settings.runs.local_keep_s = 5
    async with (
        on_a_manual_clock(settings) as (server, clock),
        server.client() as client,
    ):
        started = await _start(client)
        first = await collect(client, "GET", started["events_url"])
        await server.wait_for_metric("citestream_runs_kept", 1, timeout_s=30)
        clock.advance(4)
        await asyncio.sleep(0.1)  # ten rounds of the supervisor
        kept_before_local_keep = await server.metric("citestream_runs_kept")
        clock.advance(1.5)
        await server.wait_for_metric("citestream_runs_kept", 0, timeout_s=30)
        from_redis = await collect(client, "GET", started["events_url"])
        middle = len(first) // 2
        resumed = await collect(
            client, "GET", started["events_url"], headers={"Last-Event-ID": first[middle].id}
        )
        state = await _state(client, started["run_id"])

    assert kept_before_local_keep == 1
    assert first[-1].event == "source"
    assert from_redis == first
    assert resumed == first[middle + 1 :]
    assert state["status"] == "completed"


async def test_a_run_that_missed_redis_stays_in_memory_for_the_whole_retention(
    make_settings: MakeSettings,
) -> None:
    async with running_proxy(_redis_port()) as redis_line:
        settings = make_settings(
            llm={"fake_tokens": 200, "fake_delay_ms": 10},
            redis={"url": f"redis://127.0.0.1:{redis_line.port}/0"},
        )
        settings.runs.local_keep_s = 5
        async with (
            on_a_manual_clock(settings) as (server, clock),
            server.client() as client,
        ):
            started = await _start(client)
            url = started["events_url"]
            first = await collect(client, "GET", url, stop_after=5)
            await redis_line.pause()  # the run's next events do not reach Redis
            rest = await collect(client, "GET", url, headers={"Last-Event-ID": first[-1].id})
            await redis_line.resume()
            clock.advance(60)
            await asyncio.sleep(0.1)
            kept = await server.metric("citestream_runs_kept")
            whole = await collect(client, "GET", url)
            state = await _state(client, started["run_id"])

    assert rest[-1].event == "source"
    assert kept == 1
    assert whole == first + rest
    assert state["status"] == "completed"


async def test_a_conversation_s_running_answer_can_be_found_again(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(llm={"fake_tokens": 300, "fake_delay_ms": 10})
    async with serve(settings) as server, server.client() as client:
        started = await _start(client)
        running = await client.get("/api/runs", params={"session_id": started["session_id"]})
        await client.post(started["cancel_url"])
        after = await client.get("/api/runs", params={"session_id": started["session_id"]})
        unknown = await client.get("/api/runs", params={"session_id": str(uuid.uuid4())})

    assert [run["run_id"] for run in running.json()["items"]] == [started["run_id"]]
    assert running.json()["items"][0]["status"] == "running"
    assert after.json() == unknown.json() == {"items": []}

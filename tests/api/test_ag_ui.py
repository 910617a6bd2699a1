"""POST /api/ag-ui against a live server, every event parsed with the `ag_ui.core` models an
AG-UI client uses: the order of a whole run, a thread that continues its session, a disconnect
that stops the model, a cancel, bad input refused before any stream, and the documented client.
(A failing model needs a server of its own: tests/api/test_ag_ui_failures.py.)"""

from __future__ import annotations

import ast
import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from ag_ui.core import (
    Event,
    EventType,
    RunFinishedEvent,
    RunStartedEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
)
from ag_ui.encoder import EventEncoder
from httpx_sse import aconnect_sse

from app.core.settings import LLMSettings, Settings
from tests.support.ag_ui import EVENTS, QUESTION, custom, run_events, run_input, text_of
from tests.support.corpus import write_corpus
from tests.support.doc_examples import DOCUMENTED_URL, example
from tests.support.knowledge import ingest_paths_now
from tests.support.processes import output_of
from tests.support.server import LiveServer, serve

# One event loop for the module, so that its servers are started once and shared.
pytestmark = pytest.mark.asyncio(loop_scope="module")


def _settings(root: Path, *, tokens: int, delay_ms: float) -> Settings:
    settings = Settings(
        _env_file=None,
        data_dir=root / "data",
        llm=LLMSettings(provider="fake", fake_tokens=tokens, fake_delay_ms=delay_ms),
    )
    ingest_paths_now(settings, [write_corpus(root / "docs")])
    return settings


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    """Answers of about a second: short enough to run whole, long enough to leave or cancel.
    One server at a time in a process: each wires the routers to its own container."""
    settings = _settings(tmp_path_factory.mktemp("ag-ui"), tokens=80, delay_ms=15)
    async with serve(settings) as live:
        yield live


async def test_a_run_streams_the_answer_then_its_sources_then_finishes(
    server: LiveServer,
) -> None:
    body = run_input(f"thread-{uuid.uuid4()}")
    async with server.client() as client:
        response, events = await run_events(client, body)
        ours = custom(events, "citestream.run")
        session = (await client.get(f"/api/sessions/{ours['session_id']}")).json()

    types = [e.type for e in events]
    assert response.headers["content-type"].startswith(EventEncoder().get_content_type())
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert response.headers["x-run-id"] == ours["run_id"]
    started, finished = events[0], events[-1]
    assert isinstance(started, RunStartedEvent)
    assert (started.thread_id, started.run_id) == (body["threadId"], body["runId"])
    assert isinstance(finished, RunFinishedEvent)
    assert (finished.thread_id, finished.run_id, finished.outcome) == (
        body["threadId"],
        body["runId"],
        None,
    )
    assert types[1:3] == [EventType.CUSTOM, EventType.TEXT_MESSAGE_START]
    assert set(types[3:-3]) == {EventType.TEXT_MESSAGE_CONTENT}
    assert types[-3:] == [EventType.TEXT_MESSAGE_END, EventType.CUSTOM, EventType.RUN_FINISHED]
    message_ids = {
        e.message_id
        for e in events
        if isinstance(e, TextMessageStartEvent | TextMessageContentEvent | TextMessageEndEvent)
    }
    assert message_ids == {ours["message_id"]}
    assert all(e.delta for e in events if isinstance(e, TextMessageContentEvent))
    # What the client shows is what the server keeps; only the new question was read.
    question, answer = session["messages"]["items"]
    assert question["content"] == QUESTION
    assert answer["content"] == text_of(events)
    assert answer["status"] == "complete"
    sources = custom(events, "citestream.sources")
    assert sources == answer["sources"]
    assert any(source["cited"] for source in sources)
    assert {f"[{s['index']}]" for s in sources if s["cited"]} <= set(text_of(events).split())


async def test_the_same_thread_continues_its_conversation(server: LiveServer) -> None:
    thread = f"thread-{uuid.uuid4()}"
    async with server.client() as client:
        _, first = await run_events(client, run_input(thread))
        _, second = await run_events(client, run_input(thread, "And how do I resume it?"))
        _, other_thread = await run_events(client, run_input(f"thread-{uuid.uuid4()}"))
        session_id = custom(second, "citestream.run")["session_id"]
        session = (await client.get(f"/api/sessions/{session_id}")).json()

    assert custom(first, "citestream.run")["session_id"] == session_id
    assert custom(other_thread, "citestream.run")["session_id"] != session_id
    assert isinstance(second[-1], RunFinishedEvent)
    assert [m["role"] for m in session["messages"]["items"]] == [
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    assert session["messages"]["items"][2]["content"] == "And how do I resume it?"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"threadId": None}, "threadId"),
        ({"messages": "hello"}, "messages"),
        ({"messages": [{"id": "m1", "role": "assistant", "content": "no question"}]}, "messages"),
        ({"messages": [{"id": "m1", "role": "user", "content": "   "}]}, "messages"),
        ({"messages": [{"id": "m1", "role": "user", "content": "nul \u0000"}]}, "messages"),
        ({"threadId": ""}, "threadId"),
        ({"forwardedProps": {"collection": 7}}, "forwardedProps.collection"),
        ({"forwardedProps": {"collection": "../etc"}}, "collection"),
    ],
)
async def test_bad_input_is_refused_with_a_problem_before_any_stream(
    server: LiveServer, change: dict[str, Any], field: str
) -> None:
    async with server.client() as client:
        response = await client.post("/api/ag-ui", json={**run_input("t"), **change})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "invalid_input"
    assert any(field in str(error.get("field", "")) for error in problem["errors"]), problem


async def test_an_unknown_collection_is_not_found_before_any_stream(server: LiveServer) -> None:
    body = run_input(f"thread-{uuid.uuid4()}", forwardedProps={"collection": "no-such-one"})
    async with server.client() as client:
        response = await client.post("/api/ag-ui", json=body)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_thread_answers_one_question_at_a_time(server: LiveServer) -> None:
    thread = f"thread-{uuid.uuid4()}"
    async with (
        server.client() as client,
        aconnect_sse(client, "POST", "/api/ag-ui", json=run_input(thread)) as first,
    ):
        async for _ in first.aiter_sse():  # RUN_STARTED: the first answer is under way
            break
        second = await client.post("/api/ag-ui", json=run_input(thread, "Another question?"))

    assert (second.status_code, second.json()["code"]) == (409, "conflict")


async def test_leaving_mid_answer_cancels_the_run_and_stops_the_model(
    server: LiveServer,
) -> None:
    cancels = await server.metric("citestream_run_cancels_total", origin="disconnect")
    async with server.client() as client:
        # RUN_STARTED, citestream.run, TEXT_MESSAGE_START and a few pieces of the answer.
        _, events = await run_events(client, run_input(f"thread-{uuid.uuid4()}"), stop_after=6)
        await server.wait_for_metric(
            "citestream_run_cancels_total", cancels + 1, origin="disconnect"
        )
        settled = await server.metric("citestream_llm_tokens_total")
        await asyncio.sleep(0.3)  # 20 token-times: a model still running would show
        produced = await server.metric("citestream_llm_tokens_total")
        session_id = custom(events, "citestream.run")["session_id"]
        session = (await client.get(f"/api/sessions/{session_id}")).json()

    assert produced == settled
    answer = session["messages"]["items"][-1]
    assert answer["status"] == "interrupted"
    assert answer["content"].startswith(text_of(events))


async def test_a_cancelled_run_finishes_with_the_cancelled_outcome(
    server: LiveServer,
) -> None:
    async with server.client() as client:
        body = run_input(f"thread-{uuid.uuid4()}")
        cancels: list[httpx.Response] = []
        events: list[Event] = []
        async with aconnect_sse(client, "POST", "/api/ag-ui", json=body) as source:
            async for sse in source.aiter_sse():
                events.append(EVENTS.validate_json(sse.data))
                if isinstance(events[-1], TextMessageContentEvent) and not cancels:
                    run_id = custom(events, "citestream.run")["run_id"]
                    cancels.append(await client.post(f"/api/runs/{run_id}/cancel"))

    assert [response.status_code for response in cancels] == [200]
    assert [e.type for e in events[-2:]] == [EventType.TEXT_MESSAGE_END, EventType.RUN_FINISHED]
    finished = events[-1]
    assert isinstance(finished, RunFinishedEvent)
    assert finished.outcome is not None
    assert finished.outcome.type == "cancelled"


async def test_the_documented_python_client_runs_as_written(server: LiveServer) -> None:
    code = example("docs/clients.md", "python", "/api/ag-ui")
    assert DOCUMENTED_URL in code
    out = await output_of(sys.executable, "-c", code.replace(DOCUMENTED_URL, server.url))

    answer, sources = out.rstrip("\n").split("\nSources: ")
    assert answer.startswith("Citestream streams each token")
    assert ast.literal_eval(sources) == ["cancellation.md"]

"""The event contract, on a real uvicorn server read over loopback."""

from __future__ import annotations

import time
import uuid

import httpx
from httpx_sse import aconnect_sse

from app.workflows.citation_chat import NOTHING_FOUND_ANSWER
from tests.conftest import MakeSettings
from tests.support.server import serve
from tests.support.sse import Received, answer_text, collect, decode, sequence_numbers
from tests.support.stored import stored_messages

QUESTION = {"query": "How do I cancel a stream?"}


async def _collect(
    client: httpx.AsyncClient, method: str, url: str, **kwargs: object
) -> tuple[httpx.Response, list[Received]]:
    async with aconnect_sse(client, method, url, **kwargs) as source:
        events = [decode(sse) async for sse in source.aiter_sse()]
        return source.response, events


async def test_stream_sends_meta_then_messages_then_sources(make_settings: MakeSettings) -> None:
    async with (
        serve(make_settings(llm={"fake_tokens": 24})) as server,
        server.client() as client,
    ):
        response, events = await _collect(client, "POST", "/api/chat/stream", json=QUESTION)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"

    assert [int(e.id) for e in events] == list(range(1, len(events) + 1))
    assert events[0].event == "meta"
    session_id = uuid.UUID(events[0].data["session_id"])
    uuid.UUID(events[0].data["message_id"])
    assert response.headers["x-session-id"] == str(session_id)
    assert {e.event for e in events[1:-1]} == {"message"}
    # One event per token, or fewer when the server joins pieces that piled up.
    assert 1 + 1 + 1 <= len(events) <= 1 + 24 + 1
    assert len(answer_text(events).split()) == 24
    assert events[-1].event == "source"

    sources = events[-1].data
    assert [s["index"] for s in sources] == list(range(1, len(sources) + 1))
    assert sources[0]["document"] == "cancellation.md"
    assert sources[0]["title"] == "Cancelling a stream"
    assert sources[0]["heading"] == "Cancelling a stream"
    assert sources[0]["page"] is None
    for source in sources:
        assert set(source) == {
            "index",
            "node_id",
            "document",
            "document_id",
            "title",
            "page",
            "heading",
            "text",
            "score",
            "metadata",
            "cited",
        }
        assert len(source["text"]) <= 300
        assert not source["text"].startswith("Source ")
    answer = answer_text(events)
    for source in sources:
        assert source["cited"] == (f"[{source['index']}]" in answer)
    assert any(source["cited"] for source in sources)


async def test_tokens_arrive_as_they_are_produced(make_settings: MakeSettings) -> None:
    settings = make_settings(llm={"fake_tokens": 20, "fake_delay_ms": 50})
    arrivals: list[float] = []
    async with (
        serve(settings) as server,
        server.client() as client,
        aconnect_sse(client, "POST", "/api/chat/stream", json=QUESTION) as source,
    ):
        async for sse in source.aiter_sse():
            if sse.event == "message":
                arrivals.append(time.perf_counter())
    assert len(arrivals) == 20
    # 19 gaps of 50 ms: a buffered stream would deliver them all at once.
    assert arrivals[-1] - arrivals[0] > 0.6


async def test_get_endpoint_serves_event_source_clients(make_settings: MakeSettings) -> None:
    async with (
        serve(make_settings(llm={"fake_tokens": 8})) as server,
        server.client() as client,
    ):
        _, first = await _collect(
            client, "GET", "/api/chat/stream", params={"query": "How do I cancel a stream?"}
        )
        session_id = first[0].data["session_id"]
        _, follow_up = await _collect(
            client,
            "GET",
            "/api/chat/stream",
            params={"query": "And heartbeats?", "session_id": session_id},
        )
    assert [first[0].event, first[-1].event] == ["meta", "source"]
    assert {e.event for e in first[1:-1]} == {"message"}
    assert len(answer_text(first).split()) == 8
    assert follow_up[0].data["session_id"] == session_id
    assert follow_up[-1].event == "source"


async def test_plain_text_streams_the_answer_and_cited_sources(make_settings: MakeSettings) -> None:
    async with (
        serve(make_settings(llm={"fake_tokens": 16})) as server,
        server.client() as client,
    ):
        _, events = await _collect(client, "POST", "/api/chat/stream", json=QUESTION)
        response = await client.post(
            "/api/chat/stream", json=QUESTION, headers={"Accept": "text/plain"}
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    uuid.UUID(response.headers["x-session-id"])
    answer = answer_text(events)
    assert response.text.startswith(answer)
    assert "Sources:\n[1] cancellation.md" in response.text


async def test_post_chat_returns_the_whole_answer(make_settings: MakeSettings) -> None:
    async with (
        serve(make_settings(llm={"fake_tokens": 16})) as server,
        server.client() as client,
    ):
        response = await client.post("/api/chat", json=QUESTION)
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"answer", "sources", "session_id", "message_id"}
    assert len(body["answer"].split()) == 16
    assert body["sources"][0]["document"] == "cancellation.md"


async def test_nothing_retrieved_still_ends_with_an_empty_source_event(
    make_settings: MakeSettings,
) -> None:
    async with serve(make_settings()) as server, server.client() as client:
        _, events = await _collect(
            client, "POST", "/api/chat/stream", json={"query": "xylophone quasar zeppelin"}
        )
    assert [e.event for e in events] == ["meta", "message", "source"]
    assert answer_text(events) == NOTHING_FOUND_ANSWER
    assert events[-1].data == []


async def test_heartbeat_comments_keep_a_slow_stream_alive(make_settings: MakeSettings) -> None:
    settings = make_settings(
        llm={"fake_tokens": 6, "fake_delay_ms": 150}, chat={"heartbeat_s": 0.2}
    )
    async with (
        serve(settings) as server,
        server.client() as client,
        client.stream("POST", "/api/chat/stream", json=QUESTION) as response,
    ):
        lines = [line async for line in response.aiter_lines()]
    assert any(line.startswith(": ping") for line in lines)


async def test_openapi_documents_the_stream_contract(make_settings: MakeSettings) -> None:
    async with serve(make_settings()) as server, server.client() as client:
        schema = (await client.get("/openapi.json")).json()
        docs = await client.get("/docs")
    assert docs.status_code == 200
    for method in ("post", "get"):
        content = schema["paths"]["/api/chat/stream"][method]["responses"]["200"]["content"]
        assert "text/event-stream" in content
    assert "/api/chat" in schema["paths"]
    for name in ("MetaData", "MessageData", "ErrorData", "Source"):
        assert name in schema["components"]["schemas"]


async def test_health_and_metrics(make_settings: MakeSettings) -> None:
    async with serve(make_settings()) as server, server.client() as client:
        health = (await client.get("/healthz")).json()
        await client.post("/api/chat", json=QUESTION)
        metrics = (await client.get("/metrics")).text
    assert health == {
        "status": "ok",
        "documents": 3,
        "llm_provider": "fake",
        "retrieval": "lexical",
    }
    assert "citestream_active_streams 0.0" in metrics
    assert 'citestream_streams_total{outcome="completed"} 1.0' in metrics
    assert "citestream_llm_tokens_total 64.0" in metrics
    assert "citestream_time_to_first_token_seconds_count 1.0" in metrics


async def test_an_event_source_reconnecting_gets_the_rest_of_the_same_answer(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(llm={"fake_tokens": 40, "fake_delay_ms": 10})
    async with serve(settings) as server, server.client() as client:
        url = "/api/chat/stream"
        params = {"query": "How do I cancel a stream?"}
        before = await collect(client, "GET", url, params=params, stop_after=6)  # then cut
        # What the browser sends when it reconnects by itself: same URL, Last-Event-ID.
        after = await collect(
            client, "GET", url, params=params, headers={"Last-Event-ID": before[-1].id}
        )
        listed = (await client.get("/api/sessions")).json()
        stored = await stored_messages(server.container.database(), before[0].data["session_id"])

        finished = await client.get(url, params=params, headers={"Last-Event-ID": after[-1].id})

    run_id = before[0].data["run_id"]
    assert finished.status_code == 204  # an EventSource left open after `source` stops
    assert all(event.id.startswith(f"{run_id}:") for event in before + after)
    assert sequence_numbers(before + after) == list(range(1, len(before + after) + 1))
    assert after[-1].event == "source"
    assert answer_text(before + after) == stored[-1].content
    assert listed["total"] == 1  # the question was not asked again


async def test_an_event_source_reconnecting_to_a_run_that_is_gone_is_told_to_stop(
    make_settings: MakeSettings,
) -> None:
    async with serve(make_settings()) as server, server.client() as client:
        for last_event_id in (f"{uuid.uuid4()}:7", "7", "garbage"):
            response = await client.get(
                "/api/chat/stream",
                params={"query": "How do I cancel a stream?"},
                headers={"Last-Event-ID": last_event_id},
            )
            assert response.status_code == 204  # EventSource stops reconnecting on 204
        listed = (await client.get("/api/sessions")).json()
    assert listed["total"] == 0  # the question was not asked again

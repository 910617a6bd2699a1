"""Closing the connection stops the run in every phase: the model stops, nothing keeps running.

Each test reads a live uvicorn server, disconnects, and then checks what a user and an operator
rely on: the token counter stops growing, `active_streams` returns to 0, the outcome counts as
`cancelled`, and the turn is stored as interrupted.
"""

from __future__ import annotations

import asyncio
import gc

import httpx
import pytest
from httpx_sse import aconnect_sse
from sqlalchemy import select

from app.container import Container
from app.memory.messages import MessageRole, MessageStatus
from app.memory.models import ChatMessage
from tests.conftest import MakeSettings
from tests.support.retrievers import HeldSearch
from tests.support.server import LiveServer, serve
from tests.support.sse import decode
from tests.support.stored import stored_messages

QUESTION = {"query": "How do I cancel a stream?"}


async def assert_run_stopped(server: LiveServer, *, tokens_ceiling: float) -> float:
    """After a disconnect: no stream active, counted as cancelled, and no token produced since."""
    await server.wait_for_metric("citestream_active_streams", 0)
    assert await server.metric("citestream_streams_total", outcome="cancelled") == 1
    settled = await server.metric("citestream_llm_tokens_total")
    await asyncio.sleep(0.5)  # 25 token-times at 20 ms: a model still running would show
    assert await server.metric("citestream_llm_tokens_total") == settled
    assert settled < tokens_ceiling
    assert workflow_tasks() == []
    return settled


def workflow_tasks() -> list[str]:
    """Tasks of a workflow run (runtime, result waiter, step workers) still alive in this loop."""
    names = [task.get_coro().__qualname__ for task in asyncio.all_tasks() if not task.done()]  # type: ignore[union-attr]
    markers = ("workflow", "_run_worker", "_single_pull")
    return [name for name in names if any(marker in name.lower() for marker in markers)]


async def stored_answer(server: LiveServer, session_id: str) -> tuple[MessageStatus, str]:
    messages = await stored_messages(server.container.database(), session_id)
    answer = messages[-1]
    assert answer.role == MessageRole.ASSISTANT
    return answer.status, answer.content


async def test_disconnect_while_generating_stops_the_model(make_settings: MakeSettings) -> None:
    settings = make_settings(llm={"fake_tokens": 64, "fake_delay_ms": 20})
    received: list[str] = []
    async with serve(settings) as server, server.client() as client:
        async with aconnect_sse(client, "POST", "/api/chat/stream", json=QUESTION) as source:
            async for sse in source.aiter_sse():
                event = decode(sse)
                if event.event == "meta":
                    session_id = event.data["session_id"]
                if event.event == "message":
                    received.append(event.data["delta"])
                if len(received) == 5:
                    assert workflow_tasks() != []  # the check below can see a live run
                    break
        produced = await assert_run_stopped(server, tokens_ceiling=64)
        status, content = await stored_answer(server, session_id)

    assert produced >= 5
    assert status == MessageStatus.INTERRUPTED
    # What is stored is what the model produced before it stopped, starting with what was shown.
    assert content.startswith("".join(received))
    assert len(content.split()) <= produced


async def test_disconnect_while_condensing_stops_the_model(make_settings: MakeSettings) -> None:
    settings = make_settings(llm={"fake_tokens": 64, "fake_delay_ms": 20})
    async with serve(settings) as server, server.client() as client:
        first = (await client.post("/api/chat", json=QUESTION)).json()
        before = await server.metric("citestream_llm_tokens_total")
        follow_up = {"query": "And heartbeats?", "session_id": first["session_id"]}
        async with aconnect_sse(client, "POST", "/api/chat/stream", json=follow_up) as source:
            # Hold the iterator: an abandoned one is finalised, which closes the connection.
            stream = source.aiter_sse()
            meta = decode(await anext(stream))  # the run is now condensing the follow-up
            # Let the condense step produce a few tokens, then leave.
            await server.wait_for_metric_at_least("citestream_llm_tokens_total", before + 3)
        produced = await assert_run_stopped(server, tokens_ceiling=before + 64)
        status, content = await stored_answer(server, first["session_id"])

    assert meta.event == "meta"
    assert produced - before < 64  # the condense step never finished
    assert (status, content) == (MessageStatus.INTERRUPTED, "")


async def test_disconnect_while_retrieving_cancels_the_search(make_settings: MakeSettings) -> None:
    settings = make_settings(llm={"fake_tokens": 64, "fake_delay_ms": 20})
    container = Container(settings=settings)
    retriever = HeldSearch()
    container.answer_pipeline.add_kwargs(search=retriever)
    async with (
        serve(settings, container) as server,
        server.client() as client,
    ):
        async with aconnect_sse(client, "POST", "/api/chat/stream", json=QUESTION) as source:
            stream = source.aiter_sse()
            session_id = decode(await anext(stream)).data["session_id"]
            await asyncio.wait_for(retriever.entered.wait(), timeout=30)
        await asyncio.wait_for(retriever.cancelled.wait(), timeout=30)
        await assert_run_stopped(server, tokens_ceiling=1)
        status, content = await stored_answer(server, session_id)
    assert (status, content) == (MessageStatus.INTERRUPTED, "")


async def test_many_disconnects_leave_nothing_running(make_settings: MakeSettings) -> None:
    # Long answers: every client leaves before its answer could end, however busy the machine
    # (tokens that pile up are sent joined, so "after n events" can mean many tokens).
    settings = make_settings(llm={"fake_tokens": 2000, "fake_delay_ms": 5})
    async with serve(settings) as server, server.client() as client:

        async def leave_after(count: int) -> None:
            async with aconnect_sse(client, "POST", "/api/chat/stream", json=QUESTION) as source:
                seen = 0
                async for _ in source.aiter_sse():
                    seen += 1
                    if seen >= count:
                        break

        await asyncio.gather(*(leave_after(n) for n in range(1, 11)))
        await server.wait_for_metric("citestream_active_streams", 0)
        assert await server.metric("citestream_streams_total", outcome="cancelled") == 10
        settled = await server.metric("citestream_llm_tokens_total")
        await asyncio.sleep(0.3)
        assert await server.metric("citestream_llm_tokens_total") == settled


async def test_a_json_client_that_leaves_stops_the_model_too(make_settings: MakeSettings) -> None:
    settings = make_settings(llm={"fake_tokens": 64, "fake_delay_ms": 20})
    async with serve(settings) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=0.4) as impatient:
            with pytest.raises(httpx.ReadTimeout):  # gives up and closes the connection
                await impatient.post("/api/chat", json=QUESTION)
        await assert_run_stopped(server, tokens_ceiling=40)
        async with server.container.database().session() as db:
            answer = (await db.scalars(select(ChatMessage).where(ChatMessage.seq == 2))).one()
    assert answer.status == MessageStatus.INTERRUPTED
    assert answer.content


async def test_a_model_that_never_waits_is_stopped_too(make_settings: MakeSettings) -> None:
    # At 0 ms per token the model's task and the run's task keep each other busy: the stop must
    # not wait for a quiet moment that only comes when the answer ends. How many tokens slip out
    # before the stop lands depends on how busy the machine is, so the answer is made long enough
    # that "stopped early" and "ran to the end" cannot be confused.
    settings = make_settings(llm={"fake_tokens": 50_000, "fake_delay_ms": 0})
    async with serve(settings) as server, server.client() as client:
        async with aconnect_sse(client, "POST", "/api/chat/stream", json=QUESTION) as source:
            stream = source.aiter_sse()
            session_id = decode(await anext(stream)).data["session_id"]
            assert (await anext(stream)).event == "message"  # then leave
        await server.wait_for_metric("citestream_active_streams", 0)
        produced = await server.metric("citestream_llm_tokens_total")
        messages = await stored_messages(server.container.database(), session_id)
    assert produced < 25_000
    assert messages[-1].status == MessageStatus.INTERRUPTED


async def test_answers_waiting_to_start_are_counted_and_leave_with_their_clients(
    make_settings: MakeSettings, caplog: pytest.LogCaptureFixture
) -> None:
    # One answer starts at a time: while its search is held, the next two wait their turn, an
    # operator sees them on /metrics, and clients that leave take them away without a trace.
    settings = make_settings(
        llm={"fake_tokens": 64, "fake_delay_ms": 20}, chat={"max_starting_answers": 1}
    )
    container = Container(settings=settings)
    retriever = HeldSearch()
    container.answer_pipeline.add_kwargs(search=retriever)
    async with serve(settings, container) as server, server.client() as client:

        async def ask() -> None:
            async with aconnect_sse(client, "POST", "/api/chat/stream", json=QUESTION) as source:
                async for _ in source.aiter_sse():
                    pass

        askers = [asyncio.create_task(ask()) for _ in range(3)]
        await asyncio.wait_for(retriever.entered.wait(), timeout=30)
        await server.wait_for_metric("citestream_answers_waiting_to_start", 2, timeout_s=30)
        assert await server.metric("citestream_answers_starting") == 1

        for asker in askers:
            asker.cancel()
        await asyncio.gather(*askers, return_exceptions=True)

        await server.wait_for_metric("citestream_streams_total", 3, outcome="cancelled")
        await server.wait_for_metric("citestream_answers_starting", 0)
        await server.wait_for_metric("citestream_answers_waiting_to_start", 0)
        assert retriever.cancelled.is_set()
        assert await server.metric("citestream_llm_tokens_total") == 0
    gc.collect()  # asyncio reports an error nobody looked at when its task is collected
    assert "exception was never retrieved" not in caplog.text

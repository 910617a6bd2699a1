"""An upstream model that fails or hangs ends the stream with the right `error` event within its
limit, and the answer is stored with what the model had written.

The `openai` provider talks to a real HTTP server on loopback that misbehaves on command; the
fake provider rehearses the same stalls for the path every provider shares.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from httpx_sse import aconnect_sse

from app.memory.messages import MessageStatus
from tests.conftest import MakeSettings
from tests.support.faulty_llm_server import (
    Fault,
    FaultyLLMServer,
    faulty_llm_server,
    port_that_never_accepts,
)
from tests.support.server import LiveServer, serve
from tests.support.sse import Received, answer_text, decode
from tests.support.stored import stored_messages

QUESTION = {"query": "How do I cancel a stream?"}
FIRST_TOKEN_S = 1.0
STALL_S = 1.0
# Where the first tokens must arrive (a stall comes later): generous, since the first call to
# the provider also imports the OpenAI client, seconds on a busy machine.
FIRST_TOKEN_ARRIVES_S = 60.0
# The limits are a second; the old behaviour was two minutes. Generous for a busy machine.
WELL_WITHIN_S = 30.0


def _limits(**overrides: Any) -> dict[str, Any]:
    return {
        "connect_timeout_s": 2.0,
        "first_token_timeout_s": FIRST_TOKEN_S,
        "stall_timeout_s": STALL_S,
        **overrides,
    }


def _openai(upstream: FaultyLLMServer, **limits: float) -> dict[str, Any]:
    return {"provider": "openai", "base_url": upstream.base_url, "model": "m", **_limits(**limits)}


async def _ask(server: LiveServer) -> tuple[list[Received], float]:
    started = time.monotonic()
    async with (
        server.client() as client,
        aconnect_sse(client, "POST", "/api/chat/stream", json=QUESTION) as source,
    ):
        events = [decode(sse) async for sse in source.aiter_sse()]
    return events, time.monotonic() - started


async def _stored_answer(server: LiveServer, events: list[Received]) -> Any:
    await server.wait_for_metric("citestream_active_streams", 0)
    messages = await stored_messages(server.container.database(), events[0].data["session_id"])
    return messages[-1]


async def _no_connection_left(upstream: FaultyLLMServer) -> None:
    async with asyncio.timeout(10):
        while upstream.open_connections:  # noqa: ASYNC110 - the server's own bookkeeping
            await asyncio.sleep(0.01)


async def test_a_healthy_upstream_answers(make_settings: MakeSettings) -> None:
    """The control: the same server without a fault gives a whole answer."""
    async with (
        faulty_llm_server() as upstream,
        serve(
            make_settings(llm=_openai(upstream, first_token_timeout_s=FIRST_TOKEN_ARRIVES_S))
        ) as s,
    ):
        events, _ = await _ask(s)
        stored = await _stored_answer(s, events)

    assert events[-1].event == "source", events[-1]
    assert answer_text(events) == "Close the connection [1]."
    assert stored.status == MessageStatus.COMPLETE


async def test_an_error_status_ends_with_llm_error(make_settings: MakeSettings) -> None:
    async with (
        faulty_llm_server(Fault.ERROR_STATUS) as upstream,
        serve(make_settings(llm=_openai(upstream))) as server,
    ):
        events, elapsed = await _ask(server)
        stored = await _stored_answer(server, events)

    assert [e.event for e in events] == ["meta", "error"]
    assert events[-1].data["code"] == "llm_error"
    assert elapsed < WELL_WITHIN_S
    assert stored.status == MessageStatus.ERROR
    assert stored.error_code == "llm_error"
    assert upstream.requests == 1  # not retried


async def test_an_upstream_that_never_answers_ends_with_llm_timeout(
    make_settings: MakeSettings,
) -> None:
    async with (
        faulty_llm_server(Fault.NEVER_ANSWERS) as upstream,
        serve(make_settings(llm=_openai(upstream))) as server,
    ):
        events, elapsed = await _ask(server)
        stored = await _stored_answer(server, events)
        # The hanging request was abandoned: its connection is closed, not left to time out.
        await _no_connection_left(upstream)

    assert [e.event for e in events] == ["meta", "error"]
    assert events[-1].data["code"] == "llm_timeout"
    assert "did not start answering within 1 seconds" in events[-1].data["message"]
    assert elapsed < WELL_WITHIN_S
    assert stored.status == MessageStatus.INTERRUPTED
    assert stored.error_code == "llm_timeout"
    assert stored.content == ""


async def test_an_upstream_that_stalls_mid_answer_ends_with_llm_timeout(
    make_settings: MakeSettings,
) -> None:
    async with (
        faulty_llm_server(Fault.STALLS) as upstream,
        serve(
            make_settings(llm=_openai(upstream, first_token_timeout_s=FIRST_TOKEN_ARRIVES_S))
        ) as server,
    ):
        events, elapsed = await _ask(server)
        stored = await _stored_answer(server, events)
        await _no_connection_left(upstream)

    assert events[-1].event == "error"
    assert events[-1].data["code"] == "llm_timeout"
    assert "stopped writing for 1 seconds" in events[-1].data["message"]
    assert answer_text(events) == "Close the"
    assert elapsed < WELL_WITHIN_S
    assert stored.status == MessageStatus.INTERRUPTED
    assert stored.content == "Close the"


async def test_an_upstream_that_closes_mid_answer_ends_with_llm_error(
    make_settings: MakeSettings,
) -> None:
    async with (
        faulty_llm_server(Fault.CLOSES) as upstream,
        serve(
            make_settings(llm=_openai(upstream, first_token_timeout_s=FIRST_TOKEN_ARRIVES_S))
        ) as server,
    ):
        events, elapsed = await _ask(server)
        stored = await _stored_answer(server, events)

    assert events[-1].event == "error"
    assert events[-1].data["code"] == "llm_error"
    assert answer_text(events) == "Close the"
    assert elapsed < WELL_WITHIN_S
    assert stored.status == MessageStatus.ERROR
    assert stored.content == "Close the"


async def test_an_unreachable_upstream_fails_fast(make_settings: MakeSettings) -> None:
    """Nothing listens on the port: refused at once, `llm_error` rather than a timeout."""
    async with faulty_llm_server() as upstream:
        settings = make_settings(llm=_openai(upstream))
    async with serve(settings) as server:
        events, elapsed = await _ask(server)

    assert events[-1].data["code"] == "llm_error"
    assert elapsed < WELL_WITHIN_S


async def test_a_server_that_cannot_be_connected_to_ends_with_llm_timeout(
    make_settings: MakeSettings,
) -> None:
    """The connection hangs in the handshake: the connect limit (1 s) ends it, long before the
    first-token limit (60 s)."""
    with port_that_never_accepts() as port:
        llm = {
            "provider": "openai",
            "base_url": f"http://127.0.0.1:{port}/v1",
            **_limits(connect_timeout_s=1.0, first_token_timeout_s=FIRST_TOKEN_ARRIVES_S),
        }
        async with serve(make_settings(llm=llm)) as server:
            events, elapsed = await _ask(server)
            stored = await _stored_answer(server, events)

    assert events[-1].data["code"] == "llm_timeout"
    assert "could not be reached within 1 seconds" in events[-1].data["message"]
    assert elapsed < WELL_WITHIN_S
    assert stored.status == MessageStatus.INTERRUPTED


@pytest.mark.parametrize(
    ("stall_after", "written", "phrase"),
    [(0, "", "did not start answering"), (3, "Citestream streams each", "stopped writing")],
)
async def test_the_fake_model_rehearses_a_stall(
    make_settings: MakeSettings, stall_after: int, written: str, phrase: str
) -> None:
    first_token_s = FIRST_TOKEN_S if stall_after == 0 else FIRST_TOKEN_ARRIVES_S
    llm = {
        "fake_tokens": 8,
        "fake_stall_after": stall_after,
        **_limits(first_token_timeout_s=first_token_s),
    }
    async with serve(make_settings(llm=llm)) as server:
        events, _ = await _ask(server)
        stored = await _stored_answer(server, events)
        run = (await server.probe.get(f"/api/runs/{events[0].data['run_id']}")).json()

    assert events[-1].data["code"] == "llm_timeout"
    assert phrase in events[-1].data["message"]
    assert answer_text(events) == written
    assert stored.status == MessageStatus.INTERRUPTED
    assert stored.content == written
    assert run["status"] == "failed"
    assert run["error_code"] == "llm_timeout"

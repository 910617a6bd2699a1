"""A model that fails mid-answer ends the stream with an `error` event, never a cut or a trace."""

from __future__ import annotations

import uuid

from httpx_sse import aconnect_sse
from sqlalchemy import text

from app.memory.messages import HistoryMessage, MessageRole, MessageStatus
from app.services.history_window import fit_to_tokens
from tests.conftest import MakeSettings
from tests.support.llms import BrokenLLM
from tests.support.server import LiveServer, serve
from tests.support.sse import answer_text, decode
from tests.support.stored import stored_messages

QUESTION = {"query": "How do I cancel a stream?"}


async def test_llm_failure_mid_answer_ends_with_an_error_event(make_settings: MakeSettings) -> None:
    async with (
        serve(make_settings(), llm=BrokenLLM(good_tokens=3)) as server,
        server.client() as client,
    ):
        async with aconnect_sse(client, "POST", "/api/chat/stream", json=QUESTION) as source:
            events = [decode(sse) async for sse in source.aiter_sse()]
        await _assert_failure_recorded(server, events[0].data["session_id"])

    # Pieces that arrive while the server is busy may be joined: the text is what counts.
    assert events[0].event == "meta"
    assert {e.event for e in events[1:-1]} == {"message"}
    assert answer_text(events) == "token0 token1 token2 "
    error = events[-1].data
    assert events[-1].event == "error"
    assert error["code"] == "llm_error"
    assert error["message"] == "The language model failed while answering."
    assert [int(e.id) for e in events] == list(range(1, len(events) + 1))


async def _assert_failure_recorded(server: LiveServer, session_id: str) -> None:
    await server.wait_for_metric("citestream_active_streams", 0)
    assert await server.metric("citestream_streams_total", outcome="error") == 1
    messages = await stored_messages(server.container.database(), session_id)
    answer = messages[-1]
    assert answer.status == MessageStatus.ERROR
    assert answer.error_code == "llm_error"
    assert answer.content == "token0 token1 token2 "


async def test_llm_failure_in_plain_text_ends_with_an_error_line(
    make_settings: MakeSettings,
) -> None:
    async with (
        serve(make_settings(), llm=BrokenLLM(good_tokens=3)) as server,
        server.client() as client,
    ):
        response = await client.post(
            "/api/chat/stream", json=QUESTION, headers={"Accept": "text/plain"}
        )
    assert response.text.endswith(
        "\n\n[error llm_error] The language model failed while answering.\n"
    )
    assert "Traceback" not in response.text
    assert "model.py" not in response.text


async def test_llm_failure_without_streaming_is_a_bad_gateway_problem(
    make_settings: MakeSettings,
) -> None:
    async with (
        serve(make_settings(), llm=BrokenLLM(good_tokens=3)) as server,
        server.client() as client,
    ):
        response = await client.post("/api/chat", json=QUESTION)
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "llm_error"
    assert "model.py" not in response.text


async def test_an_answer_over_the_time_limit_ends_with_a_timeout_event(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(
        llm={"fake_tokens": 64, "fake_delay_ms": 20}, chat={"answer_timeout_s": 0.3}
    )
    async with serve(settings) as server, server.client() as client:
        async with aconnect_sse(client, "POST", "/api/chat/stream", json=QUESTION) as source:
            events = [decode(sse) async for sse in source.aiter_sse()]
        await server.wait_for_metric("citestream_active_streams", 0)
        outcome = await server.metric("citestream_streams_total", outcome="error")
        produced = await server.metric("citestream_llm_tokens_total")

    assert events[-1].event == "error"
    assert events[-1].data == {
        "code": "timeout",
        "message": "The answer took longer than 0.3 seconds and was stopped.",
    }
    assert 1 <= len([e for e in events if e.event == "message"]) < 64
    assert outcome == 1
    assert produced < 64


def test_history_window_keeps_the_most_recent_messages_that_fit_the_token_budget() -> None:
    history = [
        HistoryMessage(MessageRole.USER, "a" * 400),  # ~100 tokens
        HistoryMessage(MessageRole.ASSISTANT, "b" * 40),  # ~10 tokens
        HistoryMessage(MessageRole.USER, "c" * 40),
    ]
    assert fit_to_tokens(history, 1000) == history
    assert fit_to_tokens(history, 20) == history[2:]  # never an answer without its question
    assert fit_to_tokens(history, 19) == history[2:]
    assert fit_to_tokens(history, 0) == []


async def test_a_turn_that_cannot_be_saved_ends_with_an_error_and_frees_the_session(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(llm={"fake_tokens": 10, "fake_delay_ms": 20})
    async with serve(settings) as server, server.client() as client:
        first = (await client.post("/api/chat", json=QUESTION)).json()
        follow_up = {**QUESTION, "session_id": first["session_id"]}
        engine = server.container.database().engine
        async with aconnect_sse(client, "POST", "/api/chat/stream", json=follow_up) as source:
            stream = source.aiter_sse()
            meta = decode(await anext(stream))
            async with engine.begin() as connection:  # the database refuses the final save
                await connection.execute(text(BREAK_SAVES))
            rest = [decode(sse) async for sse in stream]
        async with engine.begin() as connection:
            await connection.execute(text("DROP TRIGGER refuse_complete_answers"))
        retry = await client.post("/api/chat", json=follow_up)
        messages = await stored_messages(server.container.database(), first["session_id"])

    assert rest[-1].event == "error"
    assert rest[-1].data["code"] == "storage_error"
    assert retry.status_code == 200  # the session was freed, not locked until its claim ran out
    unsaved = next(m for m in messages if m.id == uuid.UUID(meta.data["message_id"]))
    assert unsaved.status == MessageStatus.INTERRUPTED  # repaired, never left "streaming"


BREAK_SAVES = """
CREATE TRIGGER refuse_complete_answers BEFORE UPDATE ON chat_messages
WHEN NEW.status = 'complete' BEGIN SELECT RAISE(ABORT, 'disk trouble'); END
"""

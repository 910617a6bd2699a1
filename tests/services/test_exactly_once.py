"""Whatever the client does, every turn is stored exactly once: complete or interrupted."""

from __future__ import annotations

import random
import uuid

import httpx
from httpx_sse import aconnect_sse
from sqlalchemy import select

from app.memory.messages import MessageRole, MessageStatus
from app.memory.models import ChatMessage
from tests.conftest import MakeSettings
from tests.support.server import LiveServer, serve
from tests.support.sse import decode

RUNS = 40


async def _ask_and_maybe_leave(
    client: httpx.AsyncClient, session_id: str | None, leave_after: int | None
) -> tuple[str, str]:
    body = {
        "query": "How do I cancel a stream?",
        **({"session_id": session_id} if session_id else {}),
    }
    shown = ""
    async with aconnect_sse(client, "POST", "/api/chat/stream", json=body) as source:
        if source.response.status_code != 200:
            await source.response.aread()
            raise AssertionError(source.response.text)
        seen = 0
        async for sse in source.aiter_sse():
            event = decode(sse)
            seen += 1
            if event.event == "meta":
                session_id = event.data["session_id"]
            if event.event == "message":
                shown += event.data["delta"]
            if leave_after is not None and seen >= leave_after:
                break
    assert session_id is not None
    return session_id, shown


async def _check_every_turn_once(
    server: LiveServer, shown: dict[str, list[tuple[str, bool]]]
) -> None:
    await server.wait_for_metric("citestream_active_streams", 0)
    async with server.container.database().session() as db:
        rows = list((await db.scalars(select(ChatMessage).order_by(ChatMessage.seq))).all())
    for session_id, turns in shown.items():
        messages = [m for m in rows if m.session_id == uuid.UUID(session_id)]
        assert [m.role for m in messages] == [MessageRole.USER, MessageRole.ASSISTANT] * len(turns)
        assert [m.seq for m in messages] == list(range(1, 2 * len(turns) + 1))
        for answer, (seen, read_to_the_end) in zip(messages[1::2], turns, strict=True):
            if read_to_the_end:
                assert answer.status == MessageStatus.COMPLETE
                assert answer.content == seen
            else:  # it may still have finished between the last event read and the close
                assert answer.status in (MessageStatus.COMPLETE, MessageStatus.INTERRUPTED)
                assert answer.content.startswith(seen)  # at least what the user saw
            if answer.status == MessageStatus.COMPLETE:
                assert answer.sources


async def test_random_disconnects_store_each_turn_exactly_once(
    make_settings: MakeSettings, database_url: str
) -> None:
    settings = make_settings(llm={"fake_tokens": 24, "fake_delay_ms": 2}, database_url=database_url)
    settings.database.auto_migrate = True
    chance = random.Random(20261121)
    shown: dict[str, list[tuple[str, bool]]] = {}
    async with serve(settings) as server, server.client() as client:
        sessions: list[str | None] = [None, None, None]
        for run in range(RUNS):
            slot = run % len(sessions)
            leave_after = chance.choice([None, 1, 2, 3, 5, 8, 13, 20, 25])
            session_id, seen = await _ask_and_maybe_leave(client, sessions[slot], leave_after)
            sessions[slot] = session_id
            shown.setdefault(session_id, []).append((seen, leave_after is None))
            # The next turn of this session waits for the server to let go of this one.
            await server.wait_for_metric("citestream_active_streams", 0)
        await _check_every_turn_once(server, shown)

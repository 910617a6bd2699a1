"""A database with no connection free: the question is refused with 503 `storage_busy` and
Retry-After before any stream opens, or its open stream ends with that code; nothing is
stored; once a connection is free again, the same request is answered."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import asyncpg
import pytest
from httpx_sse import aconnect_sse
from sqlalchemy import func, select

from app.core.errors import StorageBusy
from app.core.names import DEFAULT_COLLECTION
from app.memory.messages import MessageStatus
from app.memory.models import ChatMessage, ChatSession
from app.workflows.answers import AnswerRequest
from tests.conftest import MakeSettings
from tests.support.server import LiveServer, serve
from tests.support.services import postgres_database_of_a_limited_role
from tests.support.sse import decode
from tests.support.stored import stored_messages

QUESTION = {"query": "How do I cancel a stream?"}
# One connection, which the test takes: every statement of the server waits `pool_timeout_s`
# and gives up. Long enough that an answer's few statements never time out for want of the
# one connection while nothing holds it, even on a slow machine.
ONE_CONNECTION = {"pool_size": 1, "max_overflow": 0, "pool_timeout_s": 2.0}


async def _counts(server: LiveServer) -> tuple[int, int]:
    async with server.container.database().reading() as db:
        sessions = await db.scalar(select(func.count()).select_from(ChatSession))
        messages = await db.scalar(select(func.count()).select_from(ChatMessage))
    return sessions or 0, messages or 0


async def test_a_question_that_finds_no_free_connection_is_503_storage_busy_and_stores_nothing(
    make_settings: MakeSettings, database_url: str
) -> None:
    settings = make_settings(database={"url": database_url, **ONE_CONNECTION})
    async with serve(settings) as server, server.client() as client:
        first = (await client.post("/api/chat", json=QUESTION)).json()
        follow_up = {**QUESTION, "session_id": first["session_id"]}
        engine = server.container.database().engine
        async with engine.connect():  # the pool's only connection, held by someone else
            refused = await client.post("/api/chat/stream", json=follow_up)
            async with aconnect_sse(client, "POST", "/api/chat/stream", json=QUESTION) as source:
                new_session = [decode(sse) async for sse in source.aiter_sse()]
        counts_while_busy = await _counts(server)
        async with aconnect_sse(client, "POST", "/api/chat/stream", json=follow_up) as source:
            retried = [decode(sse) async for sse in source.aiter_sse()]
        messages = await stored_messages(server.container.database(), first["session_id"])

    # Refused before a stream opened: a problem the client can retry.
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["Retry-After"]) >= 1
    problem = json.loads(refused.text)
    assert problem["code"] == "storage_busy"
    assert problem["status"] == 503
    # A new conversation touches the database only once its stream is open: the stream says so.
    assert [e.event for e in new_session] == ["meta", "error"]
    assert new_session[-1].data["code"] == "storage_busy"
    # Neither question left a trace: the first turn only, and no new session.
    assert counts_while_busy == (1, 2)
    # Once a connection is free, the same request is answered and the session was not held.
    assert retried[0].event == "meta"
    assert retried[-1].event == "source", retried[-1]
    assert [m.status for m in messages] == [MessageStatus.COMPLETE] * 4


async def test_a_search_that_finds_no_free_connection_fails_as_storage_busy_logged_once(
    make_settings: MakeSettings, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(database={"url": postgres_url, **ONE_CONNECTION})
    async with serve(settings) as server:
        pipeline = server.container.answer_pipeline()
        question = AnswerRequest("How do I cancel a stream?", [], DEFAULT_COLLECTION)
        await pipeline.start(question).result()  # answered while the connection is free
        caplog.clear()
        async with server.container.database().engine.connect():
            answer = pipeline.start(question)
            with caplog.at_level(logging.INFO), pytest.raises(StorageBusy) as raised:
                await answer.result()

    # Not `retrieval_error`: the knowledge base is fine, the database had no room this moment.
    assert raised.value.code == "storage_busy"
    assert raised.value.retry_after_s is not None
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "QueuePool limit of size 1 overflow 0 reached" in warnings[0].getMessage()


async def test_a_sqlite_write_lock_held_by_another_process_is_503_storage_busy(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    path = tmp_path / "locked.db"
    settings = make_settings(database={"url": f"sqlite+aiosqlite:///{path}"})
    async with serve(settings) as server, server.client() as client:
        first = (await client.post("/api/chat", json=QUESTION)).json()
        follow_up = {**QUESTION, "session_id": first["session_id"]}
        # Another process (`citestream ingest`, say) writing: it holds SQLite's write lock for
        # longer than the server's busy timeout. Taking a free lock does not block this loop.
        other_process = sqlite3.connect(path, isolation_level=None)
        try:
            other_process.execute("BEGIN IMMEDIATE")
            refused = await client.post("/api/chat/stream", json=follow_up)
            counts_while_locked = await _counts(server)  # readers never wait for the lock
        finally:
            other_process.close()  # its transaction is rolled back
        answered = await client.post("/api/chat", json=follow_up)

    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["Retry-After"]) >= 1
    assert json.loads(refused.text)["code"] == "storage_busy"
    assert counts_while_locked == (1, 2)
    assert answered.status_code == 200, answered.text


async def test_a_postgresql_with_no_connection_slot_free_is_503_storage_busy(
    make_settings: MakeSettings, caplog: pytest.LogCaptureFixture
) -> None:
    # Several workers whose pools add up to more than the server's max_connections meet this:
    # the pool has room, PostgreSQL has none.
    async with postgres_database_of_a_limited_role(4) as database:
        settings = make_settings(database={"url": database.url})
        async with serve(settings) as server, server.client() as client:
            first = (await client.post("/api/chat", json=QUESTION)).json()
            follow_up = {**QUESTION, "session_id": first["session_id"]}
            # The pool's idle connections closed: the next statement needs a new one.
            await server.container.database().engine.dispose()
            others: list[asyncpg.Connection] = []
            try:
                while True:  # every slot the role has, taken by other clients
                    others.append(await asyncpg.connect(database.role_dsn))
            except asyncpg.TooManyConnectionsError:
                pass
            try:
                with caplog.at_level(logging.WARNING):
                    refused = await client.post("/api/chat/stream", json=follow_up)
                counts_while_full = await _counts_on(database.admin_dsn)
            finally:
                for other in others:
                    await other.close()
            answered = await client.post("/api/chat", json=follow_up)

    assert len(others) == 4
    # Not `storage_error` or `retrieval_error`: nothing failed, the database was full.
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["Retry-After"]) >= 1
    assert json.loads(refused.text)["code"] == "storage_busy"
    assert any("too many connections" in r.getMessage() for r in caplog.records)
    assert counts_while_full == (1, 2)
    assert answered.status_code == 200, answered.text


async def _counts_on(admin_dsn: str) -> tuple[int, int]:
    # Read as the superuser: the role has no slot left for the test either.
    connection = await asyncpg.connect(admin_dsn)
    try:
        sessions = await connection.fetchval("SELECT count(*) FROM chat_sessions")
        messages = await connection.fetchval("SELECT count(*) FROM chat_messages")
    finally:
        await connection.close()
    return int(sessions), int(messages)

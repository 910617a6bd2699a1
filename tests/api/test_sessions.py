"""The sessions API on a real uvicorn server, over conversations made through `POST /api/chat`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.memory.models import ChatMessage, ChatSession
from tests.conftest import MakeSettings
from tests.support.server import LiveServer, serve

QUESTIONS = ["How do I cancel a stream?", "How do heartbeats work?", "What is a citation?"]
SUMMARY_KEYS = {"id", "title", "collection", "created_at", "updated_at", "message_count"}
MESSAGE_KEYS = {
    "id",
    "role",
    "content",
    "status",
    "sources",
    "error_code",
    "token_count",
    "latency_ms",
    "created_at",
    "completed_at",
}


async def _ask(client: httpx.AsyncClient, query: str, session_id: str | None = None) -> str:
    body: dict[str, Any] = {"query": query}
    if session_id is not None:
        body["session_id"] = session_id
    response = await client.post("/api/chat", json=body)
    assert response.status_code == 200, response.text
    session: str = response.json()["session_id"]
    return session


async def _ids(client: httpx.AsyncClient, **params: int) -> list[str]:
    response = await client.get("/api/sessions", params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def _stored_rows(server: LiveServer, session_id: str) -> tuple[int, int]:
    key = uuid.UUID(session_id)
    async with server.container.database().session() as db:
        sessions = await db.scalar(
            select(func.count()).select_from(ChatSession).where(ChatSession.id == key)
        )
        messages = await db.scalar(
            select(func.count()).select_from(ChatMessage).where(ChatMessage.session_id == key)
        )
    return sessions or 0, messages or 0


def _assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    return body


async def _list_get_delete(server: LiveServer) -> None:
    """The common journey, run on SQLite and on PostgreSQL."""
    async with server.client() as client:
        first = await _ask(client, QUESTIONS[0])
        second = await _ask(client, QUESTIONS[1])
        await _ask(client, "And heartbeats?", first)

        listed = (await client.get("/api/sessions")).json()
        assert [item["id"] for item in listed["items"]] == [first, second]
        assert [item["message_count"] for item in listed["items"]] == [4, 2]
        assert (listed["total"], listed["limit"], listed["offset"]) == (2, 20, 0)

        shown = (await client.get(f"/api/sessions/{first}")).json()
        assert shown["title"] == QUESTIONS[0]
        assert [m["role"] for m in shown["messages"]["items"]] == ["user", "assistant"] * 2
        assert {m["status"] for m in shown["messages"]["items"]} == {"complete"}

        deleted = await client.delete(f"/api/sessions/{first}")
        assert deleted.status_code == 204
        assert deleted.content == b""
        _assert_problem(await client.get(f"/api/sessions/{first}"), 404, "not_found")
        assert await _ids(client) == [second]
        assert await _stored_rows(server, first) == (0, 0)
        assert await _stored_rows(server, second) == (1, 2)
        _assert_problem(await client.delete(f"/api/sessions/{first}"), 404, "not_found")


async def test_list_get_delete(make_settings: MakeSettings, database_url: str) -> None:
    # Migrated (as a deployment step would for PostgreSQL) and given the test corpus.
    settings = make_settings(database_url=database_url)
    async with serve(settings) as server:
        await _list_get_delete(server)


async def test_sessions_are_listed_most_recently_active_first(make_settings: MakeSettings) -> None:
    async with serve(make_settings()) as server, server.client() as client:
        ids = [await _ask(client, question) for question in QUESTIONS]
        body = (await client.get("/api/sessions")).json()
        assert [item["id"] for item in body["items"]] == ids[::-1]
        for item, question in zip(body["items"], QUESTIONS[::-1], strict=True):
            assert set(item) == SUMMARY_KEYS
            assert item["title"] == question
            assert item["message_count"] == 2
            assert datetime.fromisoformat(item["updated_at"]).utcoffset() is not None

        # A follow-up makes the oldest conversation the most recent one.
        await _ask(client, "And heartbeats?", ids[0])
        assert await _ids(client) == [ids[0], ids[2], ids[1]]


async def test_session_list_pages_cover_every_session_once(make_settings: MakeSettings) -> None:
    async with serve(make_settings()) as server, server.client() as client:
        for question in QUESTIONS:
            await _ask(client, question)
        everything = await _ids(client, limit=100)
        one_by_one = [await _ids(client, limit=1, offset=offset) for offset in range(3)]
        assert one_by_one == [[session] for session in everything]
        assert await _ids(client, limit=2, offset=2) == everything[2:]
        for offset in (3, 1000):
            past_the_end = (
                await client.get("/api/sessions", params={"limit": 1, "offset": offset})
            ).json()
            assert past_the_end == {"items": [], "total": 3, "limit": 1, "offset": offset}


async def test_no_sessions_is_an_empty_page(make_settings: MakeSettings) -> None:
    async with serve(make_settings()) as server, server.client() as client:
        body = (await client.get("/api/sessions")).json()
    assert body == {"items": [], "total": 0, "limit": 20, "offset": 0}


BAD_PAGES = [
    ({"limit": 0}, "limit"),
    ({"limit": 101}, "limit"),
    ({"offset": -1}, "offset"),
    ({"limit": "ten"}, "limit"),
]


@pytest.mark.parametrize(("params", "field"), BAD_PAGES, ids=[str(p[0]) for p in BAD_PAGES])
async def test_out_of_range_pages_are_problems(
    make_settings: MakeSettings, params: dict[str, Any], field: str
) -> None:
    async with serve(make_settings()) as server, server.client() as client:
        session = await _ask(client, QUESTIONS[0])
        for path in ("/api/sessions", f"/api/sessions/{session}"):
            body = _assert_problem(await client.get(path, params=params), 422, "invalid_input")
            assert [error["field"] for error in body["errors"]] == [field]


async def test_a_session_shows_its_messages_in_conversation_order(
    make_settings: MakeSettings,
) -> None:
    async with serve(make_settings()) as server, server.client() as client:
        session = await _ask(client, QUESTIONS[0])
        await _ask(client, QUESTIONS[1], session)
        body = (await client.get(f"/api/sessions/{session}")).json()

    assert set(body) == SUMMARY_KEYS | {"messages"}
    assert body["collection"] == "default"
    assert (body["id"], body["title"], body["message_count"]) == (session, QUESTIONS[0], 4)
    page = body["messages"]
    assert (page["total"], page["limit"], page["offset"]) == (4, 50, 0)
    messages = page["items"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert [m["content"] for m in messages[::2]] == QUESTIONS[:2]
    for message in messages:
        assert set(message) == MESSAGE_KEYS
        assert message["status"] == "complete"
        assert message["error_code"] is None
        assert message["completed_at"] is not None
    for question in messages[::2]:
        assert question["sources"] is None
    for answer in messages[1::2]:
        assert answer["content"]
        assert answer["token_count"] > 0
        assert answer["latency_ms"] >= 0
        assert answer["sources"], "an answer keeps its sources"
        assert [s["index"] for s in answer["sources"]] == list(range(1, len(answer["sources"]) + 1))
    assert messages[1]["sources"][0]["document"] == "cancellation.md"


async def test_message_pages_cover_every_message_once(make_settings: MakeSettings) -> None:
    async with serve(make_settings()) as server, server.client() as client:
        session = await _ask(client, QUESTIONS[0])
        await _ask(client, QUESTIONS[1], session)
        path = f"/api/sessions/{session}"

        async def page(**params: int) -> dict[str, Any]:
            response = await client.get(path, params=params)
            assert response.status_code == 200, response.text
            messages: dict[str, Any] = response.json()["messages"]
            return messages

        everything = [m["id"] for m in (await page(limit=100))["items"]]
        singles = [[m["id"] for m in (await page(limit=1, offset=n))["items"]] for n in range(4)]
        tail = await page(limit=3, offset=2)
        past_the_end = await page(limit=1, offset=4)

    assert len(everything) == 4
    assert singles == [[message] for message in everything]
    assert [m["id"] for m in tail["items"]] == everything[2:]
    assert (tail["total"], tail["limit"], tail["offset"]) == (4, 3, 2)
    assert past_the_end == {"items": [], "total": 4, "limit": 1, "offset": 4}


async def test_unknown_or_malformed_session_ids_are_problems(make_settings: MakeSettings) -> None:
    async with serve(make_settings()) as server, server.client() as client:
        unknown = f"/api/sessions/{uuid.uuid4()}"
        _assert_problem(await client.get(unknown), 404, "not_found")
        _assert_problem(await client.patch(unknown, json={"title": "x"}), 404, "not_found")
        _assert_problem(await client.delete(unknown), 404, "not_found")
        for method in ("GET", "PATCH", "DELETE"):
            response = await client.request(method, "/api/sessions/not-a-uuid", json={"title": "x"})
            body = _assert_problem(response, 422, "invalid_input")
            assert body["errors"][0]["field"] == "session_id"


async def test_renaming_a_session(make_settings: MakeSettings) -> None:
    async with serve(make_settings()) as server, server.client() as client:
        session = await _ask(client, "  How do I   cancel\na stream?  ")
        before = (await client.get(f"/api/sessions/{session}")).json()
        assert before["title"] == "How do I cancel a stream?"

        response = await client.patch(
            f"/api/sessions/{session}", json={"title": "  Cancelling streams  "}
        )
        assert response.status_code == 200, response.text
        renamed = response.json()
        assert set(renamed) == SUMMARY_KEYS
        assert renamed["title"] == "Cancelling streams"
        assert renamed["message_count"] == 2
        assert renamed["created_at"] == before["created_at"]
        assert renamed["updated_at"] > before["updated_at"]
        assert (await client.get(f"/api/sessions/{session}")).json()["title"] == renamed["title"]
        assert (await client.get("/api/sessions")).json()["items"][0]["title"] == renamed["title"]

        longest = "t" * 200
        response = await client.patch(f"/api/sessions/{session}", json={"title": longest})
        assert response.json()["title"] == longest


BAD_TITLES: list[tuple[str, dict[str, Any], str, str]] = [
    ("blank", {"title": " \n\t "}, "title", "empty"),
    ("too long", {"title": "t" * 201}, "title", "201 characters"),
    ("missing", {}, "title", "Field required"),
    ("not a string", {"title": 7}, "title", "valid string"),
    ("extra field", {"title": "ok", "pinned": True}, "pinned", "not permitted"),
]


@pytest.mark.parametrize(
    ("case", "payload", "field", "says"), BAD_TITLES, ids=[c[0] for c in BAD_TITLES]
)
async def test_bad_titles_are_problems_and_change_nothing(
    make_settings: MakeSettings, case: str, payload: dict[str, Any], field: str, says: str
) -> None:
    async with serve(make_settings()) as server, server.client() as client:
        session = await _ask(client, QUESTIONS[0])
        response = await client.patch(f"/api/sessions/{session}", json=payload)
        body = _assert_problem(response, 422, "invalid_input")
        assert says in body["detail"], case
        assert [error["field"] for error in body["errors"]] == [field]
        assert (await client.get(f"/api/sessions/{session}")).json()["title"] == QUESTIONS[0]


async def test_delete_removes_only_that_session(make_settings: MakeSettings) -> None:
    async with serve(make_settings()) as server, server.client() as client:
        doomed = await _ask(client, QUESTIONS[0])
        await _ask(client, QUESTIONS[1], doomed)
        kept = await _ask(client, QUESTIONS[2])
        assert await _stored_rows(server, doomed) == (1, 4)

        response = await client.delete(f"/api/sessions/{doomed}")
        assert response.status_code == 204
        assert await _stored_rows(server, doomed) == (0, 0)
        assert await _stored_rows(server, kept) == (1, 2)
        assert await _ids(client) == [kept]
        _assert_problem(await client.get(f"/api/sessions/{doomed}"), 404, "not_found")
        # The conversation cannot be continued either.
        continued = await client.post("/api/chat", json={"query": "Hi?", "session_id": doomed})
        _assert_problem(continued, 404, "not_found")


async def test_delete_forgets_the_cached_window(make_settings: MakeSettings) -> None:
    async with serve(make_settings()) as server, server.client() as client:
        session = await _ask(client, QUESTIONS[0])
        windows = server.container.window_cache()
        assert await windows.get(uuid.UUID(session)) is not None, "a finished turn is cached"

        await client.delete(f"/api/sessions/{uuid.uuid4()}")
        assert await windows.get(uuid.UUID(session)) is not None

        assert (await client.delete(f"/api/sessions/{session}")).status_code == 204
        assert await windows.get(uuid.UUID(session)) is None


async def test_openapi_documents_the_sessions_api(make_settings: MakeSettings) -> None:
    async with serve(make_settings()) as server, server.client() as client:
        schema = (await client.get("/openapi.json")).json()
    item = schema["paths"]["/api/sessions/{session_id}"]
    assert set(item) == {"get", "patch", "delete"}
    assert schema["paths"]["/api/sessions"]["get"]["tags"] == ["sessions"]
    assert "404" in item["delete"]["responses"]
    for name in ("SessionPage", "SessionDetail", "SessionMessage", "SessionRename"):
        assert name in schema["components"]["schemas"]


async def test_a_session_that_is_answering_cannot_be_deleted(make_settings: MakeSettings) -> None:
    settings = make_settings(llm={"fake_tokens": 40, "fake_delay_ms": 20})
    async with serve(settings) as server, server.client() as client:
        async with client.stream(
            "POST", "/api/chat/stream", json={"query": QUESTIONS[0]}
        ) as response:
            session = response.headers["x-session-id"]
            lines = response.aiter_lines()
            while "event: message" not in await anext(lines):
                pass  # the answer is being written
            _assert_problem(await client.delete(f"/api/sessions/{session}"), 409, "conflict")
            async for _ in lines:
                pass
        await server.wait_for_metric("citestream_active_streams", 0)
        assert (await client.delete(f"/api/sessions/{session}")).status_code == 204
        assert await _stored_rows(server, session) == (0, 0)


async def test_answers_stored_before_citations_named_pages_still_read_back(
    make_settings: MakeSettings,
) -> None:
    # A source as stored before migration 0003: no document_id, title, page or heading.
    old_source = {
        "index": 1,
        "node_id": "n1",
        "document": "cancellation.md",
        "text": "Close the connection.",
        "score": 1.5,
        "metadata": {"title": "Cancelling a stream"},
        "cited": True,
    }
    async with serve(make_settings()) as server, server.client() as client:
        session = await _ask(client, QUESTIONS[0])
        async with server.container.database().session() as db:
            answer = await db.scalar(
                select(ChatMessage).where(
                    ChatMessage.session_id == uuid.UUID(session), ChatMessage.seq == 2
                )
            )
            assert answer is not None
            answer.sources = [old_source]
        response = await client.get(f"/api/sessions/{session}")
    assert response.status_code == 200
    [source] = response.json()["messages"]["items"][1]["sources"]
    assert source["document"] == "cancellation.md"
    assert (source["document_id"], source["page"], source["heading"]) == (None, None, None)

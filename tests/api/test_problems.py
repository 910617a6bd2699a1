"""Bad input gets problem+json that says what was wrong, and changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from app.memory.models import ChatMessage, ChatSession
from tests.conftest import MakeSettings
from tests.support.server import LiveServer, serve


async def _stored_rows(server: LiveServer) -> tuple[int, int]:
    async with server.container.database().session() as db:
        sessions = await db.scalar(select(func.count()).select_from(ChatSession))
        messages = await db.scalar(select(func.count()).select_from(ChatMessage))
    return sessions or 0, messages or 0


BAD_BODIES: list[tuple[str, dict[str, Any], str, str]] = [
    ("empty query", {"json": {"query": ""}}, "query", "empty"),
    ("blank query", {"json": {"query": "  \n\t "}}, "query", "empty"),
    ("query too long", {"json": {"query": "a" * 4001}}, "query", "4001 characters"),
    ("missing query", {"json": {}}, "query", "Field required"),
    ("query not a string", {"json": {"query": 42}}, "query", "valid string"),
    (
        "malformed JSON",
        {"content": b'{"query": "hi"', "headers": {"Content-Type": "application/json"}},
        "",
        "not valid JSON",
    ),
    (
        "session id not an id",
        {"json": {"query": "hi", "session_id": "42; DROP TABLE"}},
        "session_id",
        "UUID",
    ),
    ("unknown field", {"json": {"query": "hi", "sesion_id": "x"}}, "sesion_id", "not permitted"),
]


@pytest.mark.parametrize("path", ["/api/chat/stream", "/api/chat"])
@pytest.mark.parametrize(
    ("case", "request_kwargs", "field", "says"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES]
)
async def test_bad_input_is_a_clear_problem_with_no_side_effect(
    make_settings: MakeSettings,
    path: str,
    case: str,
    request_kwargs: dict[str, Any],
    field: str,
    says: str,
) -> None:
    async with serve(make_settings()) as server, server.client() as client:
        response = await client.post(path, **request_kwargs)
        stored = await _stored_rows(server)
        tokens = await server.metric("citestream_llm_tokens_total")

    assert response.status_code == 422, case
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert problem["code"] == "invalid_input"
    assert says in problem["detail"]
    if field:
        assert field in {error["field"] for error in problem["errors"]}
    assert "Traceback" not in response.text
    assert stored == (0, 0)
    assert tokens == 0


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"query": " "}, "empty"),
        ({"query": "x" * 5000}, "5000 characters"),
        ({"query": "hi", "session_id": "nope"}, "UUID"),
        ({}, "Field required"),
    ],
)
async def test_bad_event_source_query_is_a_problem(
    make_settings: MakeSettings, params: dict[str, str], says: str
) -> None:
    async with serve(make_settings()) as server, server.client() as client:
        response = await client.get("/api/chat/stream", params=params)
        stored = await _stored_rows(server)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert says in response.json()["detail"]
    assert stored == (0, 0)


async def test_unknown_session_is_not_found(make_settings: MakeSettings) -> None:
    missing = uuid.uuid4()
    async with serve(make_settings()) as server, server.client() as client:
        response = await client.post(
            "/api/chat/stream", json={"query": "hi", "session_id": str(missing)}
        )
        stored = await _stored_rows(server)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert str(missing) in response.json()["detail"]
    assert stored == (0, 0)


async def test_query_limit_is_configurable(make_settings: MakeSettings) -> None:
    settings = make_settings(chat={"max_query_chars": 10})
    async with serve(settings) as server, server.client() as client:
        too_long = await client.post("/api/chat", json={"query": "eleven char"})
        fits = await client.post("/api/chat", json={"query": "ten chars!"})
    assert too_long.status_code == 422
    assert "at most 10" in too_long.json()["detail"]
    assert fits.status_code == 200


async def test_unknown_route_is_a_problem_too(make_settings: MakeSettings) -> None:
    async with serve(make_settings()) as server, server.client() as client:
        response = await client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"

"""Every route `/openapi.json` lists, called by a second key against what a first key owns:
404 (never 403) for each owned thing, lists without the first key's items, 401 without a key.

The routes are enumerated from the live spec: a new endpoint fails this test until it is
classified below, so none can skip the check.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import MakeSettings
from tests.support.keys import bearer, create_key
from tests.support.server import LiveServer, serve
from tests.support.services import redis_url

COLLECTION = "owner-docs"

# Routes that hold nothing anyone owns, and why they are left out of the matrix.
OPEN = {
    ("GET", "/healthz"): "liveness probe: always open",
    ("GET", "/readyz"): "readiness probe: always open",
    ("GET", "/metrics"): "open unless auth.protect_metrics (tests/api/test_identity.py)",
    ("DELETE", "/api/auth/session"): "clears the caller's own cookie, needs no key",
}
# Routes that list: another principal sees none of the owner's items.
LISTS = {
    ("GET", "/api/sessions"),
    ("GET", "/api/documents"),
    ("GET", "/api/collections"),
    ("GET", "/api/runs"),
    ("GET", "/v1/models"),
}
# Routes that act for the caller alone: they own nothing, but need a key.
SELF = {("POST", "/api/auth/session")}
# Routes that name a chat by the client's own id: the same id from another key is another
# chat of its own, with nothing running (204). tests/api/test_ai_sdk.py tries one mid-answer.
CLIENT_CHATS = {
    ("GET", "/api/ai-sdk/chat/{chat_id}/stream"),
    ("POST", "/api/ai-sdk/chat/{chat_id}/stop"),
}
OWNED_CHAT = "owned-chat"


@dataclass
class Owned:
    """What the first key made."""

    session_id: str
    run_id: str
    document_id: str


def _request(method: str, path: str, owned: Owned) -> dict[str, Any]:
    """How to call a route against the owner's things: URL, query, body."""
    url = (
        path.replace("{session_id}", owned.session_id)
        .replace("{run_id}", owned.run_id)
        .replace("{document_id}", owned.document_id)
        .replace("{chat_id}", OWNED_CHAT)
    )
    question = {"query": "What do penguins eat?", "session_id": owned.session_id}
    asked = {"id": "u", "role": "user", "parts": [{"type": "text", "text": "Penguins?"}]}
    if (method, path) == ("POST", "/api/documents"):
        return {
            "url": url,
            "files": [("files", ("intruder.md", b"# Intruder\n\nWritten by someone else.\n"))],
            "data": {"collection": COLLECTION},
        }
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/api/chat"): question,
        ("POST", "/api/chat/stream"): question,
        ("POST", "/api/runs"): question,
        # Another key's chat of that id, in the owner's collection: the collection is not found.
        ("POST", "/api/ai-sdk/chat"): {
            "id": OWNED_CHAT,
            "messages": [asked],
            "collection": COLLECTION,
        },
        # The same for an AG-UI thread of that id.
        ("POST", "/api/ag-ui"): {
            "threadId": OWNED_CHAT,
            "runId": "r",
            "state": None,
            "messages": [{"id": "u", "role": "user", "content": "Penguins?"}],
            "tools": [],
            "context": [],
            "forwardedProps": {"collection": COLLECTION},
        },
        ("POST", "/api/stream-tokens"): {"run_id": owned.run_id},
        ("PATCH", "/api/sessions/{session_id}"): {"title": "Taken over"},
        ("POST", "/v1/chat/completions"): {
            "model": COLLECTION,
            "messages": [{"role": "user", "content": question["query"]}],
        },
    }
    params: dict[tuple[str, str], dict[str, str]] = {
        ("GET", "/api/chat/stream"): question,
        ("GET", "/api/runs"): {"session_id": owned.session_id},
        ("GET", "/api/documents"): {"collection": COLLECTION},
    }
    request: dict[str, Any] = {"url": url, "params": params.get((method, path), {})}
    if (method, path) in bodies:
        request["json"] = bodies[(method, path)]
    return request


def _routes(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    }


async def _make_owned(client: httpx.AsyncClient) -> Owned:
    upload = await client.post(
        "/api/documents",
        files=[("files", ("owned.md", b"# Owned\n\nPenguins eat krill and fish.\n"))],
        data={"collection": COLLECTION},
    )
    assert upload.status_code == 201, upload.text
    answer = await client.post("/api/chat", json={"query": "Penguins?", "collection": COLLECTION})
    assert answer.status_code == 200, answer.text
    session_id = answer.json()["session_id"]
    started = await client.post(
        "/api/runs", json={"query": "And fish?", "session_id": session_id, "background": True}
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    asked = {"id": "u", "role": "user", "parts": [{"type": "text", "text": "Krill?"}]}
    chat = {"id": OWNED_CHAT, "messages": [asked], "collection": COLLECTION}
    async with client.stream("POST", "/api/ai-sdk/chat", json=chat) as response:
        assert response.status_code == 200, await response.aread()
        await response.aread()
    while (await client.get(f"/api/runs/{run_id}")).json()["status"] == "running":  # noqa: ASYNC110 - polling over HTTP
        await asyncio.sleep(0.01)
    return Owned(session_id, run_id, upload.json()["documents"][0]["document"]["id"])


@pytest.fixture
async def matrix_server(
    database_url: str, make_settings: MakeSettings
) -> AsyncIterator[LiveServer]:
    """SQLite alone; PostgreSQL with Redis carrying runs between workers."""
    sections: dict[str, Any] = {}
    if database_url.startswith("postgresql"):
        sections["redis"] = {"url": redis_url()}
    async with serve(make_settings(database_url=database_url, **sections)) as server:
        yield server


async def test_another_key_finds_nothing_the_first_key_owns(matrix_server: LiveServer) -> None:
    server = matrix_server
    owner_key = await create_key(server.container, "owner")
    other_key = await create_key(server.container, "other")
    admin_key = await create_key(server.container, "operator", admin=True)
    async with (
        server.client() as anonymous,
        httpx.AsyncClient(base_url=server.url, headers=bearer(owner_key), timeout=120) as owner,
        httpx.AsyncClient(base_url=server.url, headers=bearer(other_key), timeout=120) as other,
        httpx.AsyncClient(base_url=server.url, headers=bearer(admin_key), timeout=120) as admin,
    ):
        owned = await _make_owned(owner)
        spec = (await anonymous.get("/openapi.json")).json()
        routes = _routes(spec)
        unclassified = routes - set(OPEN) - LISTS - SELF - CLIENT_CHATS - _owned_routes(routes)
        assert not unclassified
        checked = []
        for method, path in sorted(routes - set(OPEN)):
            request = _request(method, path, owned)
            # Without a key: 401, as problem+json naming the scheme that would work.
            refused = await anonymous.request(method, **request)
            assert refused.status_code == 401, (method, path, refused.text)
            assert refused.headers["content-type"] == _error_type(path)
            assert refused.headers["www-authenticate"].startswith("Bearer")
            if (method, path) in SELF:
                continue
            response = await other.request(method, **request)
            if (method, path) in CLIENT_CHATS:
                assert response.status_code == 204, (method, path, response.text)
            elif (method, path) in LISTS:
                assert response.status_code == 200, (method, path, response.text)
                for mine in (owned.session_id, owned.run_id, owned.document_id, COLLECTION):
                    assert mine not in response.text, (method, path)
            else:
                assert response.status_code == 404, (method, path, response.text)
                assert response.headers["content-type"] == _error_type(path)
            checked.append((method, path))
        assert len(checked) >= 15  # every owned route and list was tried

        # Nothing the other key tried changed anything the owner has.
        session = await owner.get(f"/api/sessions/{owned.session_id}")
        assert session.status_code == 200
        assert session.json()["title"] != "Taken over"
        assert (await owner.get(f"/api/documents/{owned.document_id}")).status_code == 200
        names = [d["name"] for d in (await owner.get("/api/documents")).json()["items"]]
        assert names == ["owned.md"]

        # An admin sees and manages everything.
        assert (await admin.get(f"/api/sessions/{owned.session_id}")).status_code == 200
        assert (await admin.get(f"/api/runs/{owned.run_id}")).status_code == 200
        listed = (await admin.get("/api/sessions")).json()["items"]
        assert owned.session_id in [item["id"] for item in listed]
        collections = [c["name"] for c in (await admin.get("/api/collections")).json()]
        assert COLLECTION in collections
        assert (await admin.delete(f"/api/documents/{owned.document_id}")).status_code == 204


def _owned_routes(routes: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Every other API route acts on something owned (a session, run, document, collection)."""
    api = {route for route in routes if route[1].startswith(("/api/", "/v1/"))}
    return api - LISTS - SELF - CLIENT_CHATS - set(OPEN)


def _error_type(path: str) -> str:
    # The OpenAI-compatible API answers errors as OpenAI's clients expect them.
    return "application/json" if path.startswith("/v1/") else "application/problem+json"


async def test_questions_search_only_collections_the_caller_may_see(
    make_settings: MakeSettings,
) -> None:
    # The test corpus is in `default`, ingested by the local user (as `citestream ingest`
    # does without --owner): a key holder's question searches nothing there, an admin's does.
    async with serve(make_settings()) as server:
        user_key = await create_key(server.container, "user")
        admin_key = await create_key(server.container, "operator", admin=True)
        question = {"query": "What do emperor penguins eat?"}
        async with (
            httpx.AsyncClient(base_url=server.url, headers=bearer(user_key)) as user,
            httpx.AsyncClient(base_url=server.url, headers=bearer(admin_key)) as admin,
        ):
            theirs = await user.post("/api/chat", json=question)
            named = await user.post("/api/chat", json={**question, "collection": "default"})
            everything = await admin.post("/api/chat", json=question)
            assert theirs.status_code == 200
            assert theirs.json()["sources"] == []
            assert named.json()["sources"] == []  # `default` is never a 404: it always exists
            assert everything.json()["sources"]
            follow_up = await user.post(
                "/api/chat", json={"query": "And krill?", "session_id": theirs.json()["session_id"]}
            )
            assert follow_up.json()["sources"] == []
            session = await user.get(f"/api/sessions/{theirs.json()['session_id']}")
            assert session.json()["collection"] == "default"

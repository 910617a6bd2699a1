"""Who may call: local mode, keys required, bad keys, and what settings put behind a key."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.conftest import MakeSettings
from tests.support.keys import bearer, create_key
from tests.support.server import serve


async def test_local_mode_is_open_and_says_so(
    make_settings: MakeSettings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="app.services.auth"):
        async with serve(make_settings()) as server, server.client() as client:
            answer = await client.post("/api/chat", json={"query": "What do penguins eat?"})
            sessions = await client.get("/api/sessions")
    assert answer.status_code == 200
    assert [item["id"] for item in sessions.json()["items"]] == [answer.json()["session_id"]]
    [line] = [r.getMessage() for r in caplog.records if "Local mode" in r.getMessage()]
    assert "open to anyone on this machine" in line


async def test_once_a_key_exists_every_api_call_needs_one(make_settings: MakeSettings) -> None:
    async with serve(make_settings()) as server, server.client() as client:
        key = await create_key(server.container, "alice")
        refused = await client.get("/api/sessions")
        wrong = await client.get("/api/sessions", headers=bearer("cs_not-a-key"))
        not_bearer = await client.get("/api/sessions", headers={"Authorization": f"Basic {key}"})
        accepted = await client.get("/api/sessions", headers=bearer(key))
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
    for response in (refused, wrong, not_bearer):
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == 'Bearer realm="citestream"'
        assert response.json()["code"] == "unauthenticated"
    assert "unknown or revoked" in wrong.json()["detail"]
    assert accepted.status_code == 200
    assert (health.status_code, ready.status_code) == (200, 200)


async def test_required_setting_with_no_key_refuses_and_says_how_to_make_one(
    make_settings: MakeSettings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="app.services.auth"):
        async with (
            serve(make_settings(auth={"required": True})) as server,
            server.client() as client,
        ):
            refused = await client.post("/api/chat", json={"query": "Penguins?"})
    assert refused.status_code == 401
    assert any("citestream keys create" in r.getMessage() for r in caplog.records)


async def test_a_server_listening_beyond_loopback_requires_a_key(
    make_settings: MakeSettings,
) -> None:
    # The test server binds loopback; what counts is where the settings say it listens.
    settings = make_settings(server={"host": "0.0.0.0"})
    async with serve(settings) as server, server.client() as client:
        refused = await client.get("/api/documents")
    assert refused.status_code == 401


async def test_a_revoked_key_is_refused(make_settings: MakeSettings) -> None:
    async with serve(make_settings()) as server, server.client() as client:
        key = await create_key(server.container, "alice")
        await create_key(server.container, "operator", admin=True)  # keeps auth enforced
        assert (await client.get("/api/sessions", headers=bearer(key))).status_code == 200
        await server.container.key_service().revoke("alice")
        refused = await client.get("/api/sessions", headers=bearer(key))
    assert refused.status_code == 401


@pytest.mark.parametrize(
    ("settings", "path", "protected"),
    [
        ({}, "/metrics", False),
        ({}, "/openapi.json", False),
        ({}, "/docs", False),
        ({"protect_metrics": True}, "/metrics", True),
        ({"protect_docs": True}, "/openapi.json", True),
        ({"protect_docs": True}, "/docs", True),
        ({"protect_docs": True}, "/redoc", True),
        ({"protect_docs": True, "protect_metrics": True}, "/healthz", False),
    ],
)
async def test_metrics_and_docs_go_behind_a_key_when_configured(
    make_settings: MakeSettings, settings: dict[str, bool], path: str, protected: bool
) -> None:
    async with serve(make_settings(auth=settings)) as server, server.client() as client:
        key = await create_key(server.container, "alice")
        anonymous = await client.get(path)
        with_key = await client.get(path, headers=bearer(key))
    assert with_key.status_code == 200
    if protected:
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        assert anonymous.headers["content-type"] == "application/problem+json"
    else:
        assert anonymous.status_code == 200


async def test_the_key_cache_is_bounded_in_time(make_settings: MakeSettings) -> None:
    # Another process revoking a key (the CLI) is seen within the cache's TTL; here the TTL is
    # zero, so a revocation written straight to the database counts at once.
    async with serve(make_settings(auth={"key_cache_ttl_s": 0})) as server:
        key = await create_key(server.container, "alice")
        await create_key(server.container, "operator", admin=True)
        async with httpx.AsyncClient(base_url=server.url, headers=bearer(key)) as client:
            assert (await client.get("/api/sessions")).status_code == 200
            await server.container.key_store().revoke("alice")  # not through the service
            assert (await client.get("/api/sessions")).status_code == 401

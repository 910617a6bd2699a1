"""Stream tokens for EventSource and the browser's cookie session, on a real server."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx

from app.core.clock import ManualClock, SystemClock
from app.services.signing import Signer, StreamGrant
from tests.conftest import MakeSettings
from tests.support.keys import bearer, create_key
from tests.support.server import LiveServer, serve
from tests.support.sse import collect

SECRET = "test-secret-for-signing-only"
COOKIE = "citestream_session"


async def _background_run(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    started = await client.post(
        "/api/runs", json={"query": "Penguins?", "background": True, **body}
    )
    assert started.status_code == 202, started.text
    run: dict[str, Any] = started.json()
    while (await client.get(f"/api/runs/{run['run_id']}")).json()["status"] == "running":  # noqa: ASYNC110 - polling over HTTP
        await asyncio.sleep(0.01)
    return run


async def _token(client: httpx.AsyncClient, **body: str) -> httpx.Response:
    return await client.post("/api/stream-tokens", json=body)


def _client(server: LiveServer, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, headers=headers, timeout=120)


async def test_a_stream_token_opens_only_its_own_run_and_only_for_get(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(auth={"secret": SECRET})
    async with serve(settings) as server:
        alice_key = await create_key(server.container, "alice")
        bob_key = await create_key(server.container, "bob")
        alice = await server.container.key_service().principal_for_key(alice_key)
        assert alice is not None
        async with (
            _client(server, **bearer(alice_key)) as owner,
            _client(server, **bearer(bob_key)) as other,
            server.client() as browser,
        ):
            run = await _background_run(owner)
            other_run = await _background_run(owner)
            issued = await _token(owner, run_id=run["run_id"])
            assert issued.status_code == 200
            token = issued.json()["token"]
            assert issued.json()["expires_in_s"] == 300

            events = await collect(
                browser, "GET", f"/api/runs/{run['run_id']}/events?access_token={token}"
            )
            assert events[0].event == "meta"
            assert events[-1].event == "source"

            # Another run, even the same key's: not what the token opens.
            elsewhere = await browser.get(
                f"/api/runs/{other_run['run_id']}/events", params={"access_token": token}
            )
            assert elsewhere.status_code == 404
            # Not a key, not for other routes, not for changes.
            as_bearer = await browser.get("/api/sessions", headers=bearer(token))
            state = await browser.get(f"/api/runs/{run['run_id']}", params={"access_token": token})
            cancel = await browser.post(
                f"/api/runs/{run['run_id']}/cancel", params={"access_token": token}
            )
            assert (as_bearer.status_code, state.status_code, cancel.status_code) == (401,) * 3
            # Another key cannot get a token for this run: to it, the run does not exist.
            assert (await _token(other, run_id=run["run_id"])).status_code == 404
            assert (await _token(owner)).status_code == 422  # neither run nor session

            # Expired: signed with the server's secret ten minutes ago.
            past = ManualClock(SystemClock().now() - timedelta(minutes=10))
            stale = Signer(SECRET, past).stream_token(
                StreamGrant(principal_id=alice.id, run_id=uuid.UUID(run["run_id"]))
            )
            expired = await browser.get(
                f"/api/runs/{run['run_id']}/events", params={"access_token": stale}
            )
            assert expired.status_code == 401
            assert "expired" in expired.json()["detail"]


async def test_a_session_token_streams_answers_in_that_session(make_settings: MakeSettings) -> None:
    async with serve(make_settings()) as server:
        key = await create_key(server.container, "alice")
        async with _client(server, **bearer(key)) as owner, server.client() as browser:
            run = await _background_run(owner)
            session_id = run["session_id"]
            token = (await _token(owner, session_id=session_id)).json()["token"]
            params = {"query": "And krill?", "session_id": session_id, "access_token": token}
            events = await collect(browser, "GET", "/api/chat/stream", params=params)
            assert events[-1].event == "source"
            assert events[0].data["session_id"] == session_id
            # A new conversation (or another one) is not what the token was made for.
            fresh = await browser.get(
                "/api/chat/stream", params={"query": "Hi", "access_token": token}
            )
            assert fresh.status_code == 404
            # Revoking the key ends its tokens too.
            await create_key(server.container, "operator", admin=True)
            await server.container.key_service().revoke("alice")
            revoked = await browser.get("/api/chat/stream", params=params)
            assert revoked.status_code == 401


async def test_the_cookie_session_signs_a_browser_in_and_refuses_cross_site_changes(
    make_settings: MakeSettings,
) -> None:
    async with serve(make_settings()) as server:
        key = await create_key(server.container, "alice")
        async with _client(server, **bearer(key)) as api, server.client() as browser:
            opened = await api.post("/api/auth/session")
            assert opened.status_code == 204
            set_cookie = opened.headers["set-cookie"]
            assert set_cookie.startswith(f"{COOKIE}=")
            attributes = {part.strip().lower() for part in set_cookie.split(";")}
            assert {"httponly", "samesite=strict", "path=/"} <= attributes
            assert "secure" not in attributes  # plain http here...
            # ...while behind a TLS proxy (uvicorn trusts X-Forwarded-Proto from loopback) the
            # cookie is Secure.
            over_https = await api.post("/api/auth/session", headers={"X-Forwarded-Proto": "https"})
            assert "secure" in {
                p.strip().lower() for p in over_https.headers["set-cookie"].split(";")
            }
            cookie = {"Cookie": set_cookie.split(";", 1)[0]}

            assert (await browser.get("/api/sessions", headers=cookie)).status_code == 200
            question = {"query": "What do penguins eat?"}
            for where in ({}, {"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
                refused = await browser.post("/api/chat", json=question, headers=cookie | where)
                assert refused.status_code == 403, where
                assert refused.json()["code"] == "cross_site_request"
            same_site = {"Sec-Fetch-Site": "same-site"}  # a sibling subdomain: not our page
            sibling = await browser.post("/api/chat", json=question, headers=cookie | same_site)
            assert sibling.status_code == 403
            for ours in ({"Sec-Fetch-Site": "same-origin"}, {"Origin": server.url}):
                accepted = await browser.post("/api/chat", json=question, headers=cookie | ours)
                assert accepted.status_code == 200, ours

            tampered = {"Cookie": cookie["Cookie"][:-2] + "xx"}
            assert (await browser.get("/api/sessions", headers=tampered)).status_code == 401
            closed = await browser.delete("/api/auth/session", headers=cookie)
            assert closed.status_code == 204
            assert "max-age=0" in closed.headers["set-cookie"].lower()


async def test_a_session_token_opens_no_other_run_of_its_key(make_settings: MakeSettings) -> None:
    # Tokens travel in URLs (logs, proxies): one made for a conversation must not open the
    # key's other runs, by naming the session beside another run or by resuming one.
    async with serve(make_settings()) as server:
        key = await create_key(server.container, "alice")
        async with _client(server, **bearer(key)) as owner, server.client() as browser:
            mine = await _background_run(owner)
            other = await _background_run(owner)  # another conversation of the same key
            token = (await _token(owner, session_id=mine["session_id"])).json()["token"]
            beside = await browser.get(
                f"/api/runs/{other['run_id']}/events",
                params={"session_id": mine["session_id"], "access_token": token},
            )
            resumed = await browser.get(
                "/api/chat/stream",
                params={"query": "x", "session_id": mine["session_id"], "access_token": token},
                headers={"Last-Event-ID": f"{other['run_id']}:0"},
            )
            own = await browser.get(
                "/api/chat/stream",
                params={"query": "x", "session_id": mine["session_id"], "access_token": token},
                headers={"Last-Event-ID": f"{mine['run_id']}:1"},
            )
    assert beside.status_code == 404
    assert resumed.status_code == 204  # nothing of the other run: the browser stops
    assert own.status_code == 200
    assert "event: message" in own.text or "event: source" in own.text


async def test_a_cookie_asks_a_question_over_get_only_from_our_own_page(
    make_settings: MakeSettings,
) -> None:
    # GET /api/chat/stream starts a run: a sibling subdomain's <img src> must not ask in the
    # user's name, while the bundled page's own EventSource (same-origin) may.
    async with serve(make_settings()) as server:
        key = await create_key(server.container, "alice")
        async with _client(server, **bearer(key)) as api, server.client() as browser:
            opened = await api.post("/api/auth/session")
            cookie = {"Cookie": opened.headers["set-cookie"].split(";", 1)[0]}
            params = {"query": "What do penguins eat?"}
            sibling = await browser.get(
                "/api/chat/stream", params=params, headers=cookie | {"Sec-Fetch-Site": "same-site"}
            )
            ours = await collect(
                browser,
                "GET",
                "/api/chat/stream",
                params=params,
                headers=cookie | {"Sec-Fetch-Site": "same-origin"},
            )
            sessions = (await api.get("/api/sessions")).json()
    assert sibling.status_code == 403
    assert sibling.json()["code"] == "cross_site_request"
    assert ours[-1].event == "source"
    assert sessions["total"] == 1  # only our page's question was asked

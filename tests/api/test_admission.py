"""Admission control over HTTP: two worker processes sharing PostgreSQL and Redis enforce one
key's limits together (429) and the deployment's cap (503) before any stream opens; slots come
back when runs end, are cancelled on another worker, or their worker is killed (after the
lease); another key is unaffected; a server without Redis enforces the same limits itself.

Until API keys exist, every request of a worker process comes from the local user, so the
cross-worker tests limit it (`limit_local`); the two-key tests run one in-process server that
reads a test header (`as_key`) in place of `Authorization: Bearer`. With keys: create two with
`citestream keys create`, send them as bearer tokens, and drop `limit_local` and the override.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Request
from prometheus_client.parser import text_string_to_metric_families

from app.api.identity import current_principal
from app.core.migrations import upgrade_to_head
from app.core.principals import LOCAL_PRINCIPAL, Principal
from app.core.settings import Settings
from tests.conftest import MakeSettings
from tests.support.llms import BrokenLLM
from tests.support.processes import worker_processes
from tests.support.server import LiveServer, serve
from tests.support.services import redis_url
from tests.support.sse import collect

QUESTION = {"query": "How do I cancel a stream?"}
BACKGROUND = {**QUESTION, "background": True}
PROBLEM_JSON = "application/problem+json"
TEST_KEY_HEADER = "X-Test-Key"
LONG_ANSWER = {"fake_tokens": 2000, "fake_delay_ms": 20}  # 40 s: runs until cancelled
SHORT_ANSWER = {"fake_tokens": 4, "fake_delay_ms": 0}
NO_LIMITS = {"work_per_minute": 0, "requests_per_minute": 0, "concurrent_runs": 0}


def as_key(name: str) -> dict[str, str]:
    """Headers that make a request come from the key `name`."""
    return {TEST_KEY_HEADER: name}


async def _caller_named_by_header(request: Request) -> Principal:
    name = request.headers.get(TEST_KEY_HEADER)
    return LOCAL_PRINCIPAL if name is None else Principal(id=f"key-{name}", name=name)


def _with_test_keys(server: LiveServer) -> LiveServer:
    server.app.dependency_overrides[current_principal] = _caller_named_by_header
    return server


def _settings(
    make_settings: MakeSettings, llm: dict[str, Any], prefix: str | None, **admission: Any
) -> Settings:
    return make_settings(
        llm=llm,
        redis={"url": redis_url()} if prefix else {},
        admission={**NO_LIMITS, **admission, "key_prefix": prefix or "unused"},
    )


async def _env(
    make_settings: MakeSettings, postgres_url: str, prefix: str, **admission: Any
) -> dict[str, str]:
    """Two workers' environment: one PostgreSQL, one Redis, a 40 s fake answer."""
    await asyncio.to_thread(upgrade_to_head, postgres_url)
    settings = make_settings(database_url=postgres_url)  # the test corpus, in PostgreSQL
    limits = {**NO_LIMITS, "key_prefix": prefix, **admission}
    return {
        "CITESTREAM_DATA_DIR": str(settings.data_dir),
        "CITESTREAM_DATABASE__URL": postgres_url,
        "CITESTREAM_REDIS__URL": redis_url(),
        "CITESTREAM_LLM__PROVIDER": "fake",
        "CITESTREAM_LLM__FAKE_TOKENS": "2000",
        "CITESTREAM_LLM__FAKE_DELAY_MS": "20",
        "CITESTREAM_SERVER__LOG_LEVEL": "warning",
        **{f"CITESTREAM_ADMISSION__{name.upper()}": str(value) for name, value in limits.items()},
    }


async def _metric(client: httpx.AsyncClient, url: str, reason: str) -> float:
    text = (await client.get(f"{url}/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "citestream_admission_rejections_total"
                and sample.labels.get("reason") == reason
            ):
                return float(sample.value)
    raise AssertionError(f"no rejections counted for {reason}")


async def _start(client: httpx.AsyncClient, url: str, **headers: str) -> httpx.Response:
    return await client.post(f"{url}/api/runs", json=BACKGROUND, headers=headers)


async def _cancel(client: httpx.AsyncClient, url: str, *started: httpx.Response) -> None:
    for response in started:
        await client.post(f"{url}/api/runs/{response.json()['run_id']}/cancel")


def _assert_refused(response: httpx.Response, status: int, code: str, retry_after: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON  # not an event stream
    assert response.json()["code"] == code
    assert response.headers["Retry-After"] == retry_after


async def test_a_flood_from_one_key_is_refused_on_both_workers_before_any_stream(
    make_settings: MakeSettings, postgres_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    env = await _env(make_settings, postgres_url, redis_prefix, work_per_minute=4, limit_local=True)
    with worker_processes(2, env, tmp_path) as (a, b):
        async with httpx.AsyncClient(timeout=60) as client:
            admitted = [await _start(client, worker.url) for worker in (a, b, a, b)]
            refused_run = await _start(client, a.url)
            refused_stream = await client.post(f"{b.url}/api/chat/stream", json=QUESTION)
            refused_event_source = await client.get(f"{a.url}/api/chat/stream", params=QUESTION)
            rejected = [await _metric(client, worker.url, "work_rate") for worker in (a, b)]
            await _cancel(client, a.url, *admitted)

    # The limit is the deployment's: 4 in all, not 4 per worker.
    assert [response.status_code for response in admitted] == [202] * 4
    for refused in (refused_run, refused_stream, refused_event_source):
        _assert_refused(refused, 429, "rate_limited", "15")  # 4 a minute: one more in 15 s
    assert rejected == [2, 1]


async def test_runs_at_once_hold_across_workers_and_a_cancelled_run_gives_its_slot_back(
    make_settings: MakeSettings, postgres_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    env = await _env(make_settings, postgres_url, redis_prefix, concurrent_runs=2, limit_local=True)
    with worker_processes(2, env, tmp_path) as (a, b):
        async with httpx.AsyncClient(timeout=60) as client:
            first, second = await _start(client, a.url), await _start(client, b.url)
            third = await _start(client, a.url)
            # Cancelled through the worker that does not run it.
            cancelled = await client.post(f"{b.url}/api/runs/{first.json()['run_id']}/cancel")
            after_cancel = await _start(client, a.url)
            await _cancel(client, a.url, second, after_cancel)

    assert (first.status_code, second.status_code) == (202, 202)
    _assert_refused(third, 429, "too_many_runs", "2")
    assert cancelled.json()["status"] == "cancelled"
    assert after_cancel.status_code == 202


async def test_the_deployment_cap_answers_503_on_every_worker_until_a_run_ends(
    make_settings: MakeSettings, postgres_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    # The local user has no per-key limits by default; the deployment's cap holds for it.
    env = await _env(make_settings, postgres_url, redis_prefix, generations=1)
    with worker_processes(2, env, tmp_path) as (a, b):
        async with httpx.AsyncClient(timeout=60) as client:
            running = await _start(client, a.url)
            overloaded = await _start(client, b.url)
            overloaded_stream = await client.get(f"{b.url}/api/chat/stream", params=QUESTION)
            await _cancel(client, b.url, running)
            admitted = await _start(client, b.url)
            await _cancel(client, b.url, admitted)
            counted = await _metric(client, b.url, "generations")

    _assert_refused(overloaded, 503, "overloaded", "5")
    _assert_refused(overloaded_stream, 503, "overloaded", "5")
    assert admitted.status_code == 202
    assert counted == 2


async def test_a_killed_worker_gives_its_slots_back_after_the_lease(
    make_settings: MakeSettings, postgres_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    env = await _env(make_settings, postgres_url, redis_prefix, generations=1, lease_s=1)
    with worker_processes(2, env, tmp_path) as (a, b):
        async with httpx.AsyncClient(timeout=60) as client:
            await _start(client, a.url)
            before_kill = await _start(client, b.url)
            a.process.send_signal(signal.SIGKILL)
            async with asyncio.timeout(60):  # the lease is 1 s here
                while (after_kill := await _start(client, b.url)).status_code == 503:  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
            await _cancel(client, b.url, after_kill)

    _assert_refused(before_kill, 503, "overloaded", "5")
    assert after_kill.status_code == 202


async def test_another_key_is_unaffected_by_one_at_its_limits(
    make_settings: MakeSettings, redis_prefix: str
) -> None:
    settings = _settings(
        make_settings, LONG_ANSWER, redis_prefix, work_per_minute=2, concurrent_runs=1
    )
    async with serve(settings) as server, _with_test_keys(server).client() as client:
        alice = await _start(client, server.url, **as_key("alice"))
        too_many = await _start(client, server.url, **as_key("alice"))
        rate_limited = await _start(client, server.url, **as_key("alice"))
        bob = [await _start(client, server.url, **as_key("bob")) for _ in range(2)]
        await _cancel(client, server.url, alice, bob[0])

    assert alice.status_code == 202
    _assert_refused(too_many, 429, "too_many_runs", "2")
    _assert_refused(rate_limited, 429, "rate_limited", "30")
    assert bob[0].status_code == 202
    _assert_refused(bob[1], 429, "too_many_runs", "2")  # bob's own limit, not alice's


@pytest.mark.parametrize("failing", [False, True], ids=["answered", "failed"])
async def test_a_client_that_saw_its_answer_end_may_ask_again_at_once(
    make_settings: MakeSettings, redis_prefix: str, failing: bool
) -> None:
    # The local user, limited like a key: it owns the test corpus, so the model is asked.
    settings = _settings(
        make_settings, SHORT_ANSWER, redis_prefix, concurrent_runs=1, limit_local=True
    )
    llm = BrokenLLM(good_tokens=1) if failing else None
    async with serve(settings, llm=llm) as server, server.client() as client:
        endings = []
        for _ in range(5):
            events = await collect(client, "POST", "/api/chat/stream", json=QUESTION)
            endings.append(events[-1].data["code"] if failing else events[-1].event)

    # Each run gave its slot back before its final event reached the client.
    assert endings == (["llm_error"] if failing else ["source"]) * 5


async def test_without_redis_one_server_enforces_the_limits_itself(
    make_settings: MakeSettings,
) -> None:
    # The local user (no key) is limited too when told so.
    settings = _settings(
        make_settings, LONG_ANSWER, None, concurrent_runs=1, work_per_minute=3, limit_local=True
    )
    async with serve(settings) as server, server.client() as client:
        running = await _start(client, server.url)
        too_many = await _start(client, server.url)
        await _cancel(client, server.url, running)
        again = await _start(client, server.url)
        await _cancel(client, server.url, again)
        rate_limited = await _start(client, server.url)  # the 4th in a minute
        counted = {
            reason: await server.metric("citestream_admission_rejections_total", reason=reason)
            for reason in ("concurrent_runs", "work_rate")
        }

    assert (running.status_code, again.status_code) == (202, 202)
    _assert_refused(too_many, 429, "too_many_runs", "2")
    _assert_refused(rate_limited, 429, "rate_limited", "20")
    assert counted == {"concurrent_runs": 1, "work_rate": 1}


async def test_every_api_request_counts_toward_the_looser_budget_probes_do_not(
    make_settings: MakeSettings, redis_prefix: str
) -> None:
    settings = _settings(make_settings, SHORT_ANSWER, redis_prefix, requests_per_minute=3)
    async with serve(settings) as server, _with_test_keys(server).client() as client:
        reads = [
            (await client.get("/api/sessions", headers=as_key("alice"))).status_code
            for _ in range(4)
        ]
        other_key = await client.get("/api/sessions", headers=as_key("bob"))
        probes = [
            (await client.get(path, headers=as_key("alice"))).status_code
            for path in ("/healthz", "/readyz", "/metrics")
        ]
        counted = await server.metric(
            "citestream_admission_rejections_total", reason="request_rate"
        )

    assert reads == [200, 200, 200, 429]
    assert other_key.status_code == 200
    assert probes == [200, 200, 200]
    assert counted == 1


async def test_with_redis_down_requests_are_served_and_limited_per_worker(
    make_settings: MakeSettings,
) -> None:
    settings = _settings(make_settings, SHORT_ANSWER, "unused", work_per_minute=2, limit_local=True)
    settings.redis.url = "redis://127.0.0.1:1/15"  # nothing listens there: Redis is down
    async with serve(settings) as server, server.client() as client:
        served = [await _start(client, server.url) for _ in range(2)]
        refused = await _start(client, server.url)
        errors = await server.metric("citestream_admission_store_errors_total")

    assert [response.status_code for response in served] == [202, 202]
    _assert_refused(refused, 429, "rate_limited", "30")
    assert errors >= 1  # counted; then Redis is left alone for a while


async def test_a_question_refused_after_admission_gives_its_slot_back(
    make_settings: MakeSettings, redis_prefix: str
) -> None:
    settings = _settings(make_settings, LONG_ANSWER, redis_prefix, concurrent_runs=1)
    async with serve(settings) as server, _with_test_keys(server).client() as client:
        refused = [
            await client.post(
                "/api/runs", json={**BACKGROUND, "collection": "nowhere"}, headers=as_key("a")
            )
            for _ in range(3)
        ]
        admitted = await _start(client, server.url, **as_key("a"))
        await _cancel(client, server.url, admitted)

    assert [response.status_code for response in refused] == [404] * 3  # no such collection
    assert admitted.status_code == 202

"""Admission control over HTTP, with real API keys sent as `Authorization: Bearer`: two worker
processes sharing PostgreSQL and Redis enforce one key's limits together (429) and the
deployment's cap (503) before any stream opens, while another key is unaffected; slots come
back when runs end, are cancelled on another worker, or their worker is killed (after the
lease); a server without Redis, or with Redis down, enforces the same limits itself; the local
user (no key) is limited like a key only when `limit_local` says so.

A key's question searches only collections it owns, so each key here owns a copy of the test
corpus in a collection named after it, and names it: its answers reach the (fake) model and
last as long as the test needs.
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.container import Container
from app.core.migrations import upgrade_to_head
from app.core.settings import Settings
from app.lifecycle import running_container
from tests.conftest import MakeSettings
from tests.support.corpus import write_corpus
from tests.support.keys import bearer, create_key_owning
from tests.support.llms import BrokenLLM
from tests.support.processes import worker_processes
from tests.support.server import CLIENT_TIMEOUT_S, LiveServer, serve
from tests.support.services import redis_url
from tests.support.sse import collect

QUESTION = {"query": "How do I cancel a stream?"}
PROBLEM_JSON = "application/problem+json"
LONG_ANSWER = {"fake_tokens": 2000, "fake_delay_ms": 20}  # 40 s: runs until cancelled
SHORT_ANSWER = {"fake_tokens": 4, "fake_delay_ms": 0}
NO_LIMITS = {"work_per_minute": 0, "requests_per_minute": 0, "concurrent_runs": 0}


@dataclass(frozen=True)
class Key:
    """A real API key, owning a copy of the test corpus in the collection of its name."""

    name: str
    secret: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.secret)

    def question(self, **more: Any) -> dict[str, Any]:
        return {**QUESTION, "collection": self.name, **more}


async def _keys(container: Container, folder: Path, *names: str) -> list[Key]:
    corpus = write_corpus(folder / "key-docs")
    return [Key(name, await create_key_owning(container, name, corpus)) for name in names]


def _settings(
    make_settings: MakeSettings, llm: dict[str, Any], prefix: str | None, **admission: Any
) -> Settings:
    return make_settings(
        llm=llm,
        redis={"url": redis_url()} if prefix else {},
        admission={**NO_LIMITS, **admission, "key_prefix": prefix or "unused"},
    )


async def _env(
    make_settings: MakeSettings, postgres_url: str, prefix: str, tmp_path: Path, **admission: Any
) -> tuple[dict[str, str], list[Key]]:
    """Two workers' environment (one PostgreSQL, one Redis, a 40 s fake answer) and two keys,
    alice and bob, made in that database before the workers start."""
    await asyncio.to_thread(upgrade_to_head, postgres_url)
    settings = make_settings(database_url=postgres_url)  # the test corpus, in PostgreSQL
    async with running_container(settings) as container:
        keys = await _keys(container, tmp_path, "alice", "bob")
    limits = {**NO_LIMITS, "key_prefix": prefix, **admission}
    env = {
        "CITESTREAM_DATA_DIR": str(settings.data_dir),
        "CITESTREAM_DATABASE__URL": postgres_url,
        "CITESTREAM_REDIS__URL": redis_url(),
        "CITESTREAM_LLM__PROVIDER": "fake",
        "CITESTREAM_LLM__FAKE_TOKENS": "2000",
        "CITESTREAM_LLM__FAKE_DELAY_MS": "20",
        "CITESTREAM_SERVER__LOG_LEVEL": "warning",
        **{f"CITESTREAM_ADMISSION__{name.upper()}": str(value) for name, value in limits.items()},
    }
    return env, keys


def _client(server: LiveServer, key: Key) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, headers=key.headers, timeout=CLIENT_TIMEOUT_S)


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


async def _start(client: httpx.AsyncClient, url: str, key: Key | None) -> httpx.Response:
    """A background run for `key` (None: the local user, who needs no key)."""
    if key is None:
        return await client.post(f"{url}/api/runs", json={**QUESTION, "background": True})
    return await client.post(
        f"{url}/api/runs", json=key.question(background=True), headers=key.headers
    )


async def _cancel(
    client: httpx.AsyncClient, url: str, key: Key | None, *started: httpx.Response
) -> None:
    headers = key.headers if key else {}
    for response in started:
        if response.status_code == 202:
            run_id = response.json()["run_id"]
            await client.post(f"{url}/api/runs/{run_id}/cancel", headers=headers)


def _assert_refused(response: httpx.Response, status: int, code: str, retry_after: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON  # not an event stream
    assert response.json()["code"] == code
    assert response.headers["Retry-After"] == retry_after


async def test_a_flood_from_one_key_is_refused_on_both_workers_and_another_key_is_not(
    make_settings: MakeSettings, postgres_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    env, (alice, bob) = await _env(
        make_settings, postgres_url, redis_prefix, tmp_path, work_per_minute=4
    )
    with worker_processes(2, env, tmp_path) as (a, b):
        async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_S) as client:
            admitted = [await _start(client, worker.url, alice) for worker in (a, b, a, b)]
            refused_run = await _start(client, a.url, alice)
            refused_stream = await client.post(
                f"{b.url}/api/chat/stream", json=alice.question(), headers=alice.headers
            )
            refused_event_source = await client.get(
                f"{a.url}/api/chat/stream", params=alice.question(), headers=alice.headers
            )
            # Bob is admitted on both workers while alice is refused on both.
            other_key = [await _start(client, worker.url, bob) for worker in (a, b)]
            still_refused = await _start(client, b.url, alice)
            rejected = [await _metric(client, worker.url, "work_rate") for worker in (a, b)]
            await _cancel(client, a.url, alice, *admitted)
            await _cancel(client, b.url, bob, *other_key)

    # The limit is the deployment's: 4 in all, not 4 per worker.
    assert [response.status_code for response in admitted] == [202] * 4
    for refused in (refused_run, refused_stream, refused_event_source, still_refused):
        _assert_refused(refused, 429, "rate_limited", "15")  # 4 a minute: one more in 15 s
    assert [response.status_code for response in other_key] == [202, 202]
    assert rejected == [2, 2]


async def test_runs_at_once_hold_across_workers_and_a_cancelled_run_gives_its_slot_back(
    make_settings: MakeSettings, postgres_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    env, (alice, bob) = await _env(
        make_settings, postgres_url, redis_prefix, tmp_path, concurrent_runs=2
    )
    with worker_processes(2, env, tmp_path) as (a, b):
        async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_S) as client:
            first, second = await _start(client, a.url, alice), await _start(client, b.url, alice)
            third = await _start(client, a.url, alice)
            other_key = await _start(client, b.url, bob)
            # Cancelled through the worker that does not run it.
            cancelled = await client.post(
                f"{b.url}/api/runs/{first.json()['run_id']}/cancel", headers=alice.headers
            )
            after_cancel = await _start(client, a.url, alice)
            await _cancel(client, a.url, alice, second, after_cancel)
            await _cancel(client, a.url, bob, other_key)

    assert (first.status_code, second.status_code) == (202, 202)
    _assert_refused(third, 429, "too_many_runs", "2")
    assert other_key.status_code == 202
    assert cancelled.json()["status"] == "cancelled"
    assert after_cancel.status_code == 202


async def test_the_deployment_cap_answers_503_on_every_worker_to_every_key_until_a_run_ends(
    make_settings: MakeSettings, postgres_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    env, (alice, bob) = await _env(
        make_settings, postgres_url, redis_prefix, tmp_path, generations=1
    )
    with worker_processes(2, env, tmp_path) as (a, b):
        async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_S) as client:
            running = await _start(client, a.url, alice)
            overloaded = await _start(client, b.url, bob)
            overloaded_stream = await client.get(
                f"{b.url}/api/chat/stream", params=bob.question(), headers=bob.headers
            )
            await _cancel(client, b.url, alice, running)
            admitted = await _start(client, b.url, bob)
            await _cancel(client, b.url, bob, admitted)
            counted = await _metric(client, b.url, "generations")

    assert running.status_code == 202
    _assert_refused(overloaded, 503, "overloaded", "5")
    _assert_refused(overloaded_stream, 503, "overloaded", "5")
    assert admitted.status_code == 202
    assert counted == 2


async def test_a_killed_worker_gives_its_slots_back_after_the_lease(
    make_settings: MakeSettings, postgres_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    env, (alice, bob) = await _env(
        make_settings, postgres_url, redis_prefix, tmp_path, generations=1, lease_s=1
    )
    with worker_processes(2, env, tmp_path) as (a, b):
        async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_S) as client:
            running = await _start(client, a.url, alice)
            before_kill = await _start(client, b.url, bob)
            a.process.send_signal(signal.SIGKILL)
            async with asyncio.timeout(60):  # the lease is 1 s here
                while (after_kill := await _start(client, b.url, bob)).status_code == 503:  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
            await _cancel(client, b.url, bob, after_kill)

    assert running.status_code == 202
    _assert_refused(before_kill, 503, "overloaded", "5")
    assert after_kill.status_code == 202


async def test_another_key_is_unaffected_by_one_at_its_limits(
    make_settings: MakeSettings, redis_prefix: str, tmp_path: Path
) -> None:
    settings = _settings(
        make_settings, LONG_ANSWER, redis_prefix, work_per_minute=2, concurrent_runs=1
    )
    async with serve(settings) as server, server.client() as client:
        alice, bob = await _keys(server.container, tmp_path, "alice", "bob")
        first = await _start(client, server.url, alice)
        too_many = await _start(client, server.url, alice)
        rate_limited = await _start(client, server.url, alice)
        bobs = [await _start(client, server.url, bob) for _ in range(2)]
        await _cancel(client, server.url, alice, first)
        await _cancel(client, server.url, bob, *bobs)

    assert first.status_code == 202
    _assert_refused(too_many, 429, "too_many_runs", "2")
    _assert_refused(rate_limited, 429, "rate_limited", "30")
    assert bobs[0].status_code == 202
    _assert_refused(bobs[1], 429, "too_many_runs", "2")  # bob's own limit, not alice's


@pytest.mark.parametrize("failing", [False, True], ids=["answered", "failed"])
async def test_a_client_that_saw_its_answer_end_may_ask_again_at_once(
    make_settings: MakeSettings, redis_prefix: str, tmp_path: Path, failing: bool
) -> None:
    settings = _settings(make_settings, SHORT_ANSWER, redis_prefix, concurrent_runs=1)
    llm = BrokenLLM(good_tokens=1) if failing else None
    async with serve(settings, llm=llm) as server:
        [alice] = await _keys(server.container, tmp_path, "alice")
        async with _client(server, alice) as client:
            endings = []
            for _ in range(5):
                events = await collect(client, "POST", "/api/chat/stream", json=alice.question())
                endings.append(events[-1].data["code"] if failing else events[-1].event)

    # Each run gave its slot back before its final event reached the client (the model was
    # asked: the key's own collection has passages).
    assert endings == (["llm_error"] if failing else ["source"]) * 5


async def test_without_redis_one_server_enforces_the_limits_itself(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    settings = _settings(make_settings, LONG_ANSWER, None, concurrent_runs=1, work_per_minute=3)
    async with serve(settings) as server, server.client() as client:
        [alice] = await _keys(server.container, tmp_path, "alice")
        running = await _start(client, server.url, alice)
        too_many = await _start(client, server.url, alice)
        await _cancel(client, server.url, alice, running)
        again = await _start(client, server.url, alice)
        await _cancel(client, server.url, alice, again)
        rate_limited = await _start(client, server.url, alice)  # the 4th in a minute
        counted = {
            reason: await server.metric("citestream_admission_rejections_total", reason=reason)
            for reason in ("concurrent_runs", "work_rate")
        }

    assert (running.status_code, again.status_code) == (202, 202)
    _assert_refused(too_many, 429, "too_many_runs", "2")
    _assert_refused(rate_limited, 429, "rate_limited", "20")
    assert counted == {"concurrent_runs": 1, "work_rate": 1}


async def test_the_local_user_is_limited_like_a_key_only_when_told_so(
    make_settings: MakeSettings,
) -> None:
    # The local user (loopback, no key) owns the machine; `limit_local` puts it under the
    # per-key limits too.
    outcomes = []
    for limit_local in (False, True):
        settings = _settings(
            make_settings, SHORT_ANSWER, None, work_per_minute=1, limit_local=limit_local
        )
        async with serve(settings) as server, server.client() as client:
            outcomes.append([await _start(client, server.url, None) for _ in range(2)])

    assert [response.status_code for response in outcomes[0]] == [202, 202]
    assert outcomes[1][0].status_code == 202
    _assert_refused(outcomes[1][1], 429, "rate_limited", "60")


async def test_every_api_request_counts_toward_the_looser_budget_probes_do_not(
    make_settings: MakeSettings, redis_prefix: str, tmp_path: Path
) -> None:
    settings = _settings(make_settings, SHORT_ANSWER, redis_prefix, requests_per_minute=3)
    async with serve(settings) as server, server.client() as client:
        alice, bob = await _keys(server.container, tmp_path, "alice", "bob")
        reads = [
            (await client.get("/api/sessions", headers=alice.headers)).status_code for _ in range(4)
        ]
        other_key = await client.get("/api/sessions", headers=bob.headers)
        probes = [
            (await client.get(path, headers=alice.headers)).status_code
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
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    settings = _settings(make_settings, SHORT_ANSWER, "unused", work_per_minute=2)
    settings.redis.url = "redis://127.0.0.1:1/15"  # nothing listens there: Redis is down
    async with serve(settings) as server, server.client() as client:
        [alice] = await _keys(server.container, tmp_path, "alice")
        served = [await _start(client, server.url, alice) for _ in range(2)]
        refused = await _start(client, server.url, alice)
        errors = await server.metric("citestream_admission_store_errors_total")

    assert [response.status_code for response in served] == [202, 202]
    _assert_refused(refused, 429, "rate_limited", "30")
    assert errors >= 1  # counted; then Redis is left alone for a while


async def test_a_question_refused_after_admission_gives_its_slot_back(
    make_settings: MakeSettings, redis_prefix: str, tmp_path: Path
) -> None:
    settings = _settings(make_settings, LONG_ANSWER, redis_prefix, concurrent_runs=1)
    async with serve(settings) as server:
        [alice] = await _keys(server.container, tmp_path, "alice")
        async with _client(server, alice) as client:
            refused = [
                await client.post(
                    "/api/runs", json=alice.question(background=True, collection="nowhere")
                )
                for _ in range(3)
            ]
            admitted = await _start(client, server.url, alice)
            await _cancel(client, server.url, alice, admitted)

    assert [response.status_code for response in refused] == [404] * 3  # no such collection
    assert admitted.status_code == 202

"""`citestream serve --workers 2` on PostgreSQL and Redis, run as a user runs it: one port, two
processes that both answer, share every run and drain on SIGTERM; refused, in one line, where
the workers could not share their state, and stopped, in one line, when a worker cannot start."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil  # type: ignore[import-untyped]
import pytest
from httpx_sse import aconnect_sse

from app.core.migrations import upgrade_to_head
from tests.conftest import MakeSettings
from tests.support.processes import (
    Workers,
    free_port,
    run_citestream,
    serve_with_workers,
    shared_state_env,
)
from tests.support.services import POSTGRES_ADMIN_DSN, redis_url
from tests.support.sse import Received, answer_text, decode, sequence_numbers

QUESTION = {"query": "How do I cancel a stream?"}
DRAIN_S = 2


def _env(make_settings: MakeSettings, postgres_url: str, tokens: int) -> dict[str, str]:
    return shared_state_env(
        make_settings, postgres_url, tokens=tokens, SERVER__DRAIN_S=str(DRAIN_S)
    )


@contextlib.asynccontextmanager
async def _connection_to(workers: Workers, pid: int) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose one connection the worker `pid` accepted: new connections go to either
    worker, so open them until that one takes one."""
    for _ in range(200):
        client = httpx.AsyncClient(
            base_url=workers.url, timeout=60, limits=httpx.Limits(max_connections=1)
        )
        response = await client.get("/healthz")
        if await _served_by(workers, response) == pid:
            try:
                yield client
            finally:
                await client.aclose()
            return
        await client.aclose()
    raise AssertionError(f"worker {pid} accepted none of 200 connections")


async def _served_by(workers: Workers, response: httpx.Response) -> int:
    return await asyncio.to_thread(workers.served_by, response)


async def _events(
    workers: Workers,
    client: httpx.AsyncClient,
    url: str,
    stop_after: int | None = None,
    **kwargs: Any,
) -> tuple[int, list[Received]]:
    """Who served the stream, and its events (or its first `stop_after`, then leave)."""
    received: list[Received] = []
    async with aconnect_sse(client, "GET", url, **kwargs) as source:
        pid = await _served_by(workers, source.response)
        async for sse in source.aiter_sse():
            received.append(decode(sse))
            if stop_after is not None and len(received) >= stop_after:
                break
    return pid, received


async def test_both_workers_answer_on_one_port_and_share_every_run(
    make_settings: MakeSettings, postgres_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(upgrade_to_head, postgres_url)
    with serve_with_workers(2, _env(make_settings, postgres_url, 200), tmp_path) as workers:
        answered: Counter[int] = Counter()
        for _ in range(40):  # each on a new connection, which either worker may accept
            async with httpx.AsyncClient(base_url=workers.url, timeout=60) as client:
                response = await client.get("/healthz")
                assert response.status_code == 200
                answered[await _served_by(workers, response)] += 1
        assert len(answered) == 2, answered  # of 40 requests, both workers answered some
        a, b = sorted(answered)

        async with _connection_to(workers, a) as on_a:
            start = await on_a.post("/api/runs", json=QUESTION)
            started_by = await _served_by(workers, start)
        run = start.json()
        events = f"/api/runs/{run['run_id']}/events"
        async with _connection_to(workers, b) as on_b:  # follow on B the run A executes
            first_from, first = await _events(workers, on_b, events, stop_after=8)
        async with _connection_to(workers, a) as on_a:  # resume on A
            rest_from, rest = await _events(
                workers, on_a, events, headers={"Last-Event-ID": first[-1].id}
            )
        async with _connection_to(workers, b) as on_b:  # the finished run, read on B
            whole_from, whole = await _events(workers, on_b, events)
            state = await on_b.get(f"/api/runs/{run['run_id']}")
            state_from = await _served_by(workers, state)
            session = await on_b.get(f"/api/sessions/{run['session_id']}")

        async with _connection_to(workers, a) as on_a:  # a second run on A, cancelled on B
            second = (await on_a.post("/api/runs", json=QUESTION)).json()
        async with (
            _connection_to(workers, a) as listener,
            _connection_to(workers, b) as on_b,
        ):
            url = f"/api/runs/{second['run_id']}/events"
            listening = asyncio.create_task(_events(workers, listener, url))
            cancel = await on_b.post(f"/api/runs/{second['run_id']}/cancel")
            cancel_from = await _served_by(workers, cancel)
            _, heard = await asyncio.wait_for(listening, timeout=60)

    assert (started_by, first_from, rest_from, whole_from, state_from) == (a, b, a, b, b)
    joined = first + rest
    assert sequence_numbers(joined) == list(range(1, len(joined) + 1))  # none missing, none twice
    assert joined[-1].event == "source"
    assert [(e.event, e.data) for e in whole] == [(e.event, e.data) for e in joined]
    assert state.json()["status"] == "completed"
    assert session.json()["messages"]["items"][-1]["content"] == answer_text(joined)
    assert cancel_from == b
    assert cancel.json()["status"] == "cancelled"
    assert heard[-1].event == "error"
    assert heard[-1].data["code"] == "cancelled"


async def _stream_until_it_ends(
    client: httpx.AsyncClient, started: asyncio.Event
) -> list[Received]:
    received: list[Received] = []
    async with aconnect_sse(client, "POST", "/api/chat/stream", json=QUESTION) as source:
        async for sse in source.aiter_sse():
            received.append(decode(sse))
            if sse.event == "message":
                started.set()
    return received


async def _statuses(postgres_url: str) -> list[str]:
    dsn = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0] + "/" + postgres_url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(dsn)
    try:
        return [row["status"] for row in await connection.fetch("SELECT status FROM chat_messages")]
    finally:
        await connection.close()


async def test_sigterm_to_the_parent_drains_every_worker_then_all_exit(
    make_settings: MakeSettings, postgres_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(upgrade_to_head, postgres_url)
    # 2000 tokens of 20 ms: 40 s each, longer than the drain.
    with serve_with_workers(2, _env(make_settings, postgres_url, 2000), tmp_path) as workers:
        parent = psutil.Process(workers.process.pid)
        async with contextlib.AsyncExitStack() as stack:
            streams, started = [], []
            for worker in await asyncio.to_thread(_worker_pids, workers):
                for _ in range(3):
                    client = await stack.enter_async_context(_connection_to(workers, worker))
                    started.append(asyncio.Event())
                    streams.append(asyncio.create_task(_stream_until_it_ends(client, started[-1])))
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in started)), timeout=60)
            family = parent.children(recursive=True)  # workers and their parse servers

            workers.process.send_signal(signal.SIGTERM)
            endings = await asyncio.wait_for(asyncio.gather(*streams), timeout=DRAIN_S + 30)
            code = await asyncio.to_thread(workers.process.wait, DRAIN_S + 30)
    _, alive = await asyncio.to_thread(psutil.wait_procs, family, 10)
    statuses = await _statuses(postgres_url)

    assert code == 0
    assert not alive
    for received in endings:
        assert received[-1].event == "error"
        assert received[-1].data["code"] == "shutting_down"
    assert len(statuses) == 2 * len(streams)
    assert statuses.count("interrupted") == len(streams)  # every answer, on either worker


def _worker_pids(workers: Workers) -> list[int]:
    """The two workers, as the requests that open connections find them."""
    found: set[int] = set()
    for _ in range(200):
        with httpx.Client(base_url=workers.url, timeout=60) as client:
            found.add(workers.served_by(client.get("/healthz")))
        if len(found) == 2:
            return sorted(found)
    raise AssertionError(f"only {found} accepted connections")


def _serve(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`citestream serve ARGS`, expected to stop on its own."""
    return run_citestream("serve", "--port", str(free_port()), *args, tmp_path=tmp_path, **env)


SHARED_ONLY = (
    ": runs, cancellations and conversation windows are shared between workers only through "
    "PostgreSQL and Redis (or serve with --workers 1)"
)


@pytest.mark.parametrize(
    ("args", "env", "refusal"),
    [
        (  # SQLite, even with Redis
            ["--workers", "2"],
            {"CITESTREAM_REDIS__URL": "redis://127.0.0.1:6379/15"},
            "2 workers need CITESTREAM_DATABASE__URL to a PostgreSQL database (it is SQLite)",
        ),
        (  # PostgreSQL without Redis, workers from the setting
            [],
            {
                "CITESTREAM_SERVER__WORKERS": "3",
                "CITESTREAM_DATABASE__URL": "postgresql+asyncpg://citestream@127.0.0.1:1/none",
            },
            "3 workers need CITESTREAM_REDIS__URL",
        ),
    ],
)
def test_workers_that_could_not_share_are_refused_in_one_line(
    tmp_path: Path, args: list[str], env: dict[str, str], refusal: str
) -> None:
    result = _serve(*args, tmp_path=tmp_path, **env)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"error: {refusal}{SHARED_ONLY}"]


async def test_a_worker_that_cannot_start_stops_the_command_in_one_line(
    postgres_url: str, tmp_path: Path
) -> None:
    # An empty database: each worker refuses a schema that is behind, and would again on restart.
    result = await asyncio.to_thread(
        _serve,
        "--workers",
        "2",
        tmp_path=tmp_path,
        CITESTREAM_DATABASE__URL=postgres_url,
        CITESTREAM_REDIS__URL=redis_url(),
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [result.stderr.strip()], result.stderr
    assert result.stderr.startswith("error: The database schema is at revision (empty)")
    assert "Run `citestream db upgrade`" in result.stderr

"""Streaming benchmarks against real `citestream serve` processes over loopback. Prints numbers.

Every figure is compared, in the same run, with a floor: a bare sse-starlette stream sending the
same events with no work behind them (`bench/floor.py`). This machine is shared, so the ratios
mean more than the milliseconds.

1. Time to first `message` (fake model, 0 ms/token): the floor, `POST /api/chat/stream`, and
   `POST /api/runs` then `GET /api/runs/{id}/events`; what each adds over the floor.
2. One stream's throughput (fake model, 0 ms/token, `--tokens` tokens), as a fraction of the
   floor's.
3. Resume: a reconnect with `Last-Event-ID` -> the first replayed event.
4. Stop: a client disconnects -> the model's last token (fake at 20 ms/token; llama.cpp).
5. With PostgreSQL + Redis and two workers: the same on the other worker, and a cancel sent to
   one worker -> the owner's last token.

Usage: `make bench`, or `uv run python -m bench.streaming --runs 30`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import asyncpg
import httpx
from httpx_sse import aconnect_sse

from bench.servers import PROJECT, free_port, ingest, running_server, server_env, wait_for

QUESTION = {"query": "How do I cancel a stream?"}
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/13"
Sample = Callable[[], Awaitable[float]]


@contextmanager
def floor_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.floor:app", "--port", str(port)],
        cwd=PROJECT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(url, "/stream?tokens=1")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


async def _first_message(client: httpx.AsyncClient, method: str, url: str, **kw: object) -> float:
    started = time.perf_counter()
    async with aconnect_sse(client, method, url, **kw) as source:
        async for sse in source.aiter_sse():
            if sse.event == "message":
                return time.perf_counter() - started
    raise RuntimeError("no message event")


async def _throughput(client: httpx.AsyncClient, method: str, url: str, **kw: object) -> float:
    """Tokens per second of one stream, from its first message to its last event."""
    text, first = "", 0.0
    async with aconnect_sse(client, method, url, **kw) as source:
        async for sse in source.aiter_sse():
            if sse.event == "message":
                first = first or time.perf_counter()
                text += httpx.Response(200, content=sse.data).json()["delta"]
    return len(text.split()) / (time.perf_counter() - first)


async def _sampled(sample: Sample, runs: int) -> list[float]:
    await sample()  # warm-up
    return [await sample() for _ in range(runs)]


def _ms(samples: list[float]) -> tuple[float, float, float]:
    ms = sorted(s * 1000 for s in samples)
    return statistics.median(ms), ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))], ms[-1]


def _report(name: str, samples: list[float], floor: list[float] | None = None) -> None:
    p50, p95, top = _ms(samples)
    added = f"  (+{p50 - _ms(floor)[0]:.1f} ms over the floor)" if floor else ""
    print(f"  {name:<46} p50={p50:7.1f} ms  p95={p95:7.1f} ms  max={top:7.1f} ms{added}")


async def streaming_figures(url: str, floor: str, runs: int, tokens: int, label: str) -> None:
    print(f"{label}:")
    async with httpx.AsyncClient(timeout=120) as client:

        async def floor_first() -> float:
            return await _first_message(client, "GET", f"{floor}/stream?tokens=8")

        async def chat_first() -> float:
            return await _first_message(client, "POST", f"{url}/api/chat/stream", json=QUESTION)

        async def chat_first_settled() -> float:
            # The previous answer's clean-up (stop the model, save the interrupted turn) over
            # first, as for a single question: back to back, the two share the database.
            while await _active_streams(client, url):  # noqa: ASYNC110 - polling over HTTP
                await asyncio.sleep(0.005)
            return await chat_first()

        floor_ttfm = await _sampled(floor_first, runs)
        _report("time to first message, floor", floor_ttfm)
        _report(
            "time to first message, POST /api/chat/stream",
            await _sampled(chat_first_settled, runs),
            floor_ttfm,
        )
        _report(
            "  the same, back to back",
            await _sampled(chat_first, runs),
            floor_ttfm,
        )
        _report(
            "time to first message, POST /api/runs + events",
            await _sampled(_runs_first(client, url), runs),
            floor_ttfm,
        )
        floor_rate = statistics.median(
            [await _throughput(client, "GET", f"{floor}/stream?tokens={tokens}") for _ in range(3)]
        )
        chat_rate = statistics.median(
            [
                await _throughput(client, "POST", f"{url}/api/chat/stream", json=QUESTION)
                for _ in range(3)
            ]
        )
        print(
            f"  throughput of one stream ({tokens} tokens): floor {floor_rate:,.0f} tokens/s, "
            f"/api/chat/stream {chat_rate:,.0f} tokens/s = {chat_rate / floor_rate:.2f}x the floor"
        )
        _report(
            "resume: Last-Event-ID -> first replayed event",
            await _sampled(_resume(client, url, url), runs),
        )


def _runs_first(client: httpx.AsyncClient, url: str) -> Sample:
    async def sample() -> float:
        started = time.perf_counter()
        run = (await client.post(f"{url}/api/runs", json=QUESTION)).json()
        async with aconnect_sse(client, "GET", run["events_url"]) as source:
            async for sse in source.aiter_sse():
                if sse.event == "message":
                    elapsed = time.perf_counter() - started
                    break
        # As POST /api/chat/stream does when its client leaves: the next sample starts alone.
        await client.post(run["cancel_url"])
        return elapsed

    return sample


def _resume(client: httpx.AsyncClient, start_on: str, resume_on: str) -> Sample:
    async def sample() -> float:
        run = (await client.post(f"{start_on}/api/runs", json=QUESTION)).json()
        events = f"{resume_on}/api/runs/{run['run_id']}/events"
        async with aconnect_sse(client, "GET", f"{start_on}/api/runs/{run['run_id']}/events") as s:
            seen = [sse.id async for sse in s.aiter_sse()]
        started = time.perf_counter()
        headers = {"Last-Event-ID": seen[len(seen) // 2]}
        async with aconnect_sse(client, "GET", events, headers=headers) as source:
            async for _ in source.aiter_sse():
                return time.perf_counter() - started
        raise RuntimeError("nothing replayed")

    return sample


async def _active_streams(client: httpx.AsyncClient, url: str) -> float:
    for line in (await client.get(f"{url}/metrics")).text.splitlines():
        if line.startswith("citestream_active_streams "):
            return float(line.split()[1])
    raise RuntimeError("no active streams gauge")


async def _tokens(client: httpx.AsyncClient, url: str) -> float:
    for line in (await client.get(f"{url}/metrics")).text.splitlines():
        if line.startswith("citestream_llm_tokens_total "):
            return float(line.split()[1])
    raise RuntimeError("no token counter")


async def _last_token_after(
    client: httpx.AsyncClient, owner: str, stop: Callable[[], Awaitable[object]]
) -> float:
    """Seconds from calling `stop` to the owner's last token (polling its counter every 2 ms
    until it has been still for a second)."""
    started = time.perf_counter()
    await stop()
    last_value, last_change = await _tokens(client, owner), started
    quiet_since = time.perf_counter()
    while time.perf_counter() - quiet_since < 1.0:
        value = await _tokens(client, owner)
        if value != last_value:
            last_value, last_change = value, time.perf_counter()
            quiet_since = last_change
        await asyncio.sleep(0.002)
    return max(0.0, last_change - started)


async def stop_latency(url: str, runs: int, label: str) -> None:
    async with httpx.AsyncClient(timeout=120) as client:
        samples = []
        for _ in range(runs):
            source_cm = aconnect_sse(client, "POST", f"{url}/api/chat/stream", json=QUESTION)
            source = await source_cm.__aenter__()
            seen = 0
            async for sse in source.aiter_sse():
                seen += sse.event == "message"
                if seen == 5:
                    break

            async def leave(cm: object = source_cm) -> None:
                await cm.__aexit__(None, None, None)  # type: ignore[attr-defined]

            samples.append(await _last_token_after(client, url, leave))
    _report(f"disconnect -> last token ({label})", samples)


async def cancel_across_workers(owner: str, other: str, runs: int) -> None:
    async with httpx.AsyncClient(timeout=120) as client:
        samples = []
        for _ in range(runs):
            before = await _tokens(client, owner)
            run = (
                await client.post(f"{owner}/api/runs", json={**QUESTION, "background": True})
            ).json()
            while await _tokens(client, owner) < before + 5:  # noqa: ASYNC110 - over HTTP
                await asyncio.sleep(0.01)

            async def cancel(run_id: str = run["run_id"]) -> None:
                await client.post(f"{other}/api/runs/{run_id}/cancel")

            samples.append(await _last_token_after(client, owner, cancel))
    _report("cancel sent to worker B -> A's last token", samples)


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"citestream_bench_{uuid.uuid4().hex[:8]}"

    async def run(sql: str) -> None:
        admin = await asyncpg.connect(ADMIN_DSN)
        try:
            await admin.execute(sql)
        finally:
            await admin.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main(runs: int, tokens: int, skip_llamacpp: bool, skip_postgres: bool) -> None:
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    with tempfile.TemporaryDirectory() as scratch, floor_server() as floor:
        fast = server_env(
            Path(scratch) / "sqlite",
            LLM__PROVIDER="fake",
            LLM__FAKE_DELAY_MS="0",
            LLM__FAKE_TOKENS=str(tokens),
        )
        ingest(fast, PROJECT / "docs")
        with running_server(fast) as url:
            asyncio.run(streaming_figures(url, floor, runs, tokens, "SQLite, one worker"))
        paced = server_env(Path(scratch) / "sqlite", LLM__PROVIDER="fake", LLM__FAKE_DELAY_MS="20")
        with running_server(paced) as url:
            asyncio.run(stop_latency(url, runs, "fake, 20 ms/token"))
        if not skip_llamacpp:
            local = server_env(Path(scratch) / "sqlite", LLM__PROVIDER="llamacpp")
            with running_server(local) as url:
                asyncio.run(stop_latency(url, max(3, runs // 5), "llama.cpp SmolLM2"))
        if not skip_postgres:
            with postgres_database() as database:
                shared = {
                    "DATABASE__URL": database,
                    "REDIS__URL": REDIS_URL,
                    "DATABASE__AUTO_MIGRATE": "true",
                }
                fast_pg = server_env(
                    Path(scratch) / "pg",
                    LLM__PROVIDER="fake",
                    LLM__FAKE_DELAY_MS="0",
                    LLM__FAKE_TOKENS=str(tokens),
                    **shared,
                )
                ingest(fast_pg, PROJECT / "docs")
                with ExitStack() as stack:
                    a = stack.enter_context(running_server(fast_pg))
                    b = stack.enter_context(running_server(fast_pg))
                    asyncio.run(
                        streaming_figures(a, floor, runs, tokens, "PostgreSQL + Redis, two workers")
                    )
                    asyncio.run(_cross_worker_resume(a, b, runs))
                paced_pg = server_env(
                    Path(scratch) / "pg",
                    LLM__PROVIDER="fake",
                    LLM__FAKE_DELAY_MS="20",
                    LLM__FAKE_TOKENS="2000",
                    **shared,
                )
                with ExitStack() as stack:
                    a = stack.enter_context(running_server(paced_pg))
                    b = stack.enter_context(running_server(paced_pg))
                    asyncio.run(cancel_across_workers(a, b, max(5, runs // 3)))
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    used = cpu.ru_utime - cpu_before.ru_utime + cpu.ru_stime - cpu_before.ru_stime
    print(f"(client CPU over the whole benchmark: {used:.1f} s; {os.cpu_count()} cores)")


async def _cross_worker_resume(a: str, b: str, runs: int) -> None:
    async with httpx.AsyncClient(timeout=120) as client:
        _report(
            "resume on the other worker: first replayed event",
            await _sampled(_resume(client, a, b), runs),
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Streaming benchmark")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--skip-llamacpp", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    arguments = parser.parse_args()
    main(arguments.runs, arguments.tokens, arguments.skip_llamacpp, arguments.skip_postgres)

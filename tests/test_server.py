"""A deploy loses nothing: `citestream serve` drains on SIGTERM. Every open stream ends with a
final event, every turn is stored complete or interrupted, new questions are refused with 503
meanwhile, and the process exits within the drain plus a few seconds."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]
from httpx_sse import aconnect_sse

from tests.conftest import MakeSettings
from tests.support.pdfs import shared_stream_pdf
from tests.support.processes import worker_processes
from tests.support.sse import Received, decode

STREAMS = 20
DRAIN_S = 2


async def _stream(client: httpx.AsyncClient, url: str, started: asyncio.Event) -> list[Received]:
    received: list[Received] = []
    body = {"query": "How do I cancel a stream?"}
    async with aconnect_sse(client, "POST", f"{url}/api/chat/stream", json=body) as source:
        async for sse in source.aiter_sse():
            received.append(decode(sse))
            if sse.event == "message":
                started.set()
    return received


async def test_sigterm_drains_then_stops_every_answer_with_a_final_event(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    settings = make_settings()  # the test corpus, in SQLite
    env = {
        "CITESTREAM_DATA_DIR": str(settings.data_dir),
        "CITESTREAM_DATABASE__URL": settings.database.url,
        "CITESTREAM_LLM__PROVIDER": "fake",
        "CITESTREAM_LLM__FAKE_TOKENS": "2000",  # 40 s each: longer than the drain
        "CITESTREAM_LLM__FAKE_DELAY_MS": "20",
        "CITESTREAM_SERVER__DRAIN_S": str(DRAIN_S),
        "CITESTREAM_SERVER__LOG_LEVEL": "warning",
    }
    with worker_processes(1, env, tmp_path) as [server]:
        async with httpx.AsyncClient(timeout=60) as client:
            started = [asyncio.Event() for _ in range(STREAMS)]
            streams = [asyncio.create_task(_stream(client, server.url, event)) for event in started]
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in started)), timeout=60)

            server.process.send_signal(signal.SIGTERM)
            signalled_at = time.monotonic()
            await asyncio.sleep(0.3)
            readiness = await client.get(f"{server.url}/readyz")
            refused = await client.post(f"{server.url}/api/runs", json={"query": "Anyone?"})
            endings = await asyncio.gather(*streams)
            code = await asyncio.to_thread(server.process.wait, DRAIN_S + 10)
            exited_after_s = time.monotonic() - signalled_at

    assert readiness.status_code == 503
    assert readiness.json()["status"] == "draining"
    assert refused.status_code == 503
    assert refused.headers["retry-after"]
    assert refused.json()["code"] == "draining"
    for received in endings:
        assert received[-1].event == "error"
        assert received[-1].data["code"] == "shutting_down"
    assert code == 0
    assert exited_after_s < DRAIN_S + 5
    database = settings.database.url.removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(database) as db:
        statuses = [row[0] for row in db.execute("SELECT status FROM chat_messages")]
    assert len(statuses) == 2 * STREAMS
    assert set(statuses) <= {"complete", "interrupted"}
    assert statuses.count("interrupted") == STREAMS


async def test_sigterm_is_not_held_up_by_a_file_being_read(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    settings = make_settings()
    env = {
        "CITESTREAM_DATA_DIR": str(settings.data_dir),
        "CITESTREAM_DATABASE__URL": settings.database.url,
        "CITESTREAM_LLM__PROVIDER": "fake",
        "CITESTREAM_SERVER__DRAIN_S": str(DRAIN_S),
        "CITESTREAM_SERVER__LOG_LEVEL": "warning",
        # The PDF below takes minutes to read: only stopping its parse lets the server exit.
        "CITESTREAM_LIMITS__PARSE_CPU_S": "3600",
        "CITESTREAM_LIMITS__PARSE_WALL_S": "3600",
    }
    with worker_processes(1, env, tmp_path) as [server]:
        process = psutil.Process(server.process.pid)
        async with httpx.AsyncClient(timeout=60) as client:
            files = [("files", ("shared.pdf", shared_stream_pdf(pages=50)))]
            uploading = asyncio.create_task(client.post(f"{server.url}/api/documents", files=files))
            # The fork server, then the parse process it starts for this upload.
            async with asyncio.timeout(60):
                while len(process.children(recursive=True)) < 2:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            parses = process.children(recursive=True)
            server.process.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(server.process.wait, 60)
            outcome = await asyncio.gather(uploading, return_exceptions=True)
        _, alive = psutil.wait_procs(parses, timeout=10)

    assert code == 0
    assert not alive  # no parse outlives the server
    assert not isinstance(outcome[0], httpx.Response) or outcome[0].status_code != 201
    database = settings.database.url.removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(database) as db:
        names = [row[0] for row in db.execute("SELECT name FROM documents")]
    assert "shared.pdf" not in names

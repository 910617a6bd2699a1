"""`citestream serve` with `CITESTREAM_SERVER__LOG_FORMAT=json` writes one JSON object per line,
uvicorn's lines included, each naming its request, run, conversation and principal."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from tests.conftest import MakeSettings
from tests.support.processes import Worker, worker_processes
from tests.support.sse import decode


async def _log_lines(worker: Worker, until: str) -> list[dict[str, Any]]:
    """The worker's log as parsed lines, once a line with the message `until` is there."""
    async with asyncio.timeout(30):
        while True:
            lines = [json.loads(line) for line in worker.output().splitlines() if line.strip()]
            if any(line["message"] == until for line in lines):
                return lines
            await asyncio.sleep(0.05)


async def test_json_logs_name_the_request_the_run_the_session_and_the_principal(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    settings = make_settings()
    env = {
        "CITESTREAM_DATA_DIR": str(settings.data_dir),
        "CITESTREAM_DATABASE__URL": settings.database.url,
        "CITESTREAM_LLM__PROVIDER": "fake",
        "CITESTREAM_LLM__FAKE_DELAY_MS": "0",
        "CITESTREAM_SERVER__LOG_FORMAT": "json",
        "CITESTREAM_SERVER__LOG_LEVEL": "info",
    }
    with worker_processes(1, env, tmp_path) as [worker]:
        async with httpx.AsyncClient(base_url=worker.url, timeout=60) as client:
            headers = {"X-Request-ID": "req-7f3a"}
            body = {"query": "How do I cancel a stream?"}
            async with aconnect_sse(
                client, "POST", "/api/chat/stream", json=body, headers=headers
            ) as source:
                echoed = source.response.headers["X-Request-ID"]
                events = [decode(sse) async for sse in source.aiter_sse()]
            generated = (await client.get("/healthz")).headers["X-Request-ID"]
            # A header that could forge or bloat log lines is replaced, not copied.
            forged = await client.get("/healthz", headers={"X-Request-ID": "a\tb" * 100})
            lines = await _log_lines(worker, "Run ended: completed")

    meta = events[0].data
    assert events[-1].event == "source"
    assert echoed == "req-7f3a"
    assert len(generated) == 32
    assert forged.headers["X-Request-ID"] != "a\tb" * 100
    # Every line is JSON, uvicorn's own included (start-up and access lines).
    assert {"uvicorn.error", "uvicorn.access", "app.main"} <= {line["logger"] for line in lines}
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    ended = next(line for line in lines if line["message"] == "Run ended: completed")
    assert ended["run_id"] == meta["run_id"]
    assert ended["session_id"] == meta["session_id"]
    assert ended["request_id"] == "req-7f3a"
    assert ended["principal_id"] == "local"
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    streamed = next(line for line in access if "/api/chat/stream" in line["message"])
    assert streamed["request_id"] == "req-7f3a"
    assert streamed["principal_id"] == "local"
    assert any(line["request_id"] == generated for line in access)
    # A health probe is nobody's run.
    assert all(line["run_id"] is None for line in access if "/healthz" in line["message"])

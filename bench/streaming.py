"""Streaming benchmarks against a real `citestream serve` over loopback. Prints numbers.

1. Time to first `message` event with the fake model at 0 ms per token.
2. Stop latency: after a client reads 5 `message` events and disconnects, how long until the
   model's last token (fake at 20 ms per token, then the embedded llama.cpp model). Measured by
   polling `citestream_llm_tokens_total` every few milliseconds.

Usage: `make bench`, or `uv run python -m bench.streaming --runs 50`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from httpx_sse import aconnect_sse

from tests.support.sse import read_messages

PROJECT = Path(__file__).resolve().parents[1]
QUESTION = {"query": "How do I cancel a stream?"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_server(data_dir: Path, **llm: str) -> Iterator[str]:
    """`citestream serve` in a subprocess, with the docs ingested; yields its URL."""
    env = {
        **os.environ,
        "CITESTREAM_DATA_DIR": str(data_dir),
        "CITESTREAM_SERVER__LOG_LEVEL": "warning",
        **{f"CITESTREAM_LLM__{key.upper()}": value for key, value in llm.items()},
    }
    subprocess.run(
        [sys.executable, "-m", "app.cli", "ingest", str(PROJECT / "docs")],
        env=env,
        check=True,
        capture_output=True,
    )
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the server did not start")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


async def _tokens(client: httpx.AsyncClient) -> float:
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith("citestream_llm_tokens_total "):
            return float(line.split()[1])
    raise RuntimeError("no token counter")


async def time_to_first_message(url: str, runs: int) -> list[float]:
    samples = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for _ in range(runs):
            started = time.perf_counter()
            async with aconnect_sse(client, "POST", "/api/chat/stream", json=QUESTION) as source:
                async for sse in source.aiter_sse():
                    if sse.event == "message":
                        samples.append(time.perf_counter() - started)
                        break
    return samples


async def stop_latency(url: str, runs: int) -> tuple[list[float], list[float]]:
    """Seconds from the disconnect to the model's last token, and tokens produced after it."""
    samples, extra_tokens = [], []
    async with (
        httpx.AsyncClient(base_url=url, timeout=60) as client,
        httpx.AsyncClient(base_url=url, timeout=60) as probe,
    ):
        for _ in range(runs):
            async with aconnect_sse(client, "POST", "/api/chat/stream", json=QUESTION) as source:
                await read_messages(source, 5)
            left_at = time.perf_counter()
            at_disconnect = await _tokens(probe)
            last_value, last_change = at_disconnect, left_at
            quiet_since = time.perf_counter()
            while time.perf_counter() - quiet_since < 1.0:  # one quiet second = stopped
                value = await _tokens(probe)
                if value != last_value:
                    last_value, last_change = value, time.perf_counter()
                    quiet_since = last_change
                await asyncio.sleep(0.002)
            samples.append(max(0.0, last_change - left_at))
            extra_tokens.append(last_value - at_disconnect)
    return samples, extra_tokens


def _report_stop(name: str, measured: tuple[list[float], list[float]]) -> None:
    samples, extra_tokens = measured
    _report(name, samples)
    print(f"{'':<48} tokens after the disconnect: max={max(extra_tokens):.0f}")


def _report(name: str, samples: list[float]) -> None:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    print(
        f"{name:<48} n={len(ms):<4} p50={statistics.median(ms):7.1f} ms  "
        f"p95={p95:7.1f} ms  max={ms[-1]:7.1f} ms"
    )


async def main(runs: int, skip_llamacpp: bool) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        with running_server(Path(scratch) / "fast", provider="fake", fake_delay_ms="0") as url:
            await time_to_first_message(url, 5)  # warm-up
            _report(
                "time to first message (fake, 0 ms/token)", await time_to_first_message(url, runs)
            )
        with running_server(Path(scratch) / "paced", provider="fake", fake_delay_ms="20") as url:
            _report_stop(
                "disconnect -> last token (fake, 20 ms/token)", await stop_latency(url, runs)
            )
        if not skip_llamacpp:
            with running_server(Path(scratch) / "local", provider="llamacpp") as url:
                _report_stop(
                    "disconnect -> last token (llamacpp SmolLM2)",
                    await stop_latency(url, max(3, runs // 5)),
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--skip-llamacpp", action="store_true")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.runs, arguments.skip_llamacpp))

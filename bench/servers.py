"""`citestream serve` in a subprocess for the benchmarks: started, waited for, stopped."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

PROJECT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a server on `data_dir`; `settings` are CITESTREAM_ variables without
    the prefix, e.g. LLM__PROVIDER="fake"."""
    return {
        **os.environ,
        "CITESTREAM_DATA_DIR": str(data_dir),
        "CITESTREAM_SERVER__LOG_LEVEL": "warning",
        **{f"CITESTREAM_{key.upper()}": value for key, value in settings.items()},
    }


def ingest(env: dict[str, str], *paths: Path, collection: str = "default") -> None:
    subprocess.run(
        [sys.executable, "-m", "app.cli", "ingest", *map(str, paths), "--collection", collection],
        env=env,
        check=True,
        capture_output=True,
    )


def wait_for(url: str, path: str, timeout_s: float = 120) -> float:
    """Poll `url + path` until it answers 200; returns when (time.monotonic())."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}{path}", timeout=5).status_code == 200:
                return time.monotonic()
        except httpx.TransportError:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"{url}{path} did not answer 200 within {timeout_s} s")


@contextmanager
def server_process(
    env: dict[str, str], *extra: str, log: Path | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A ready `citestream serve` (its /readyz answers 200) and its process, for benchmarks that
    watch its CPU and memory; its output goes to `log` if given."""
    port = free_port()
    with open(log or os.devnull, "wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port), *extra],
            env=env,
            stdout=output,
            stderr=output,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(url, "/readyz")
            yield url, server
        finally:
            server.terminate()
            server.wait(timeout=60)


@contextmanager
def running_server(env: dict[str, str], *extra: str) -> Iterator[str]:
    """A ready `citestream serve` (its /readyz answers 200); yields its URL."""
    with server_process(env, *extra) as (url, _):
        yield url

"""`citestream serve` as separate worker processes, the way a deployment runs several."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def worker_processes(count: int, env: dict[str, str], log_dir: Path) -> Iterator[list[str]]:
    """Start `count` servers with the same settings; yields their URLs."""
    processes: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    logs: list[IO[bytes]] = []
    try:
        for number in range(count):
            port = _free_port()
            log = (log_dir / f"worker-{number}.log").open("wb")
            logs.append(log)
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
                    env={**os.environ, **env},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url, process, number in zip(urls, processes, range(count), strict=True):
            _wait_until_healthy(url, process, log_dir / f"worker-{number}.log")
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        for opened in logs:
            opened.close()


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"worker exited:\n{log.read_text()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/readyz").status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"worker did not start:\n{log.read_text()}")

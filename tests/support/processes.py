"""Processes the tests start: `citestream serve` as separate workers, the way a deployment runs
several, one-shot commands, and clients (Python, Node) run to their end."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import psutil  # type: ignore[import-untyped]

from app.core.settings import Settings
from tests.support.services import redis_url


async def output_of(
    *command: str, cwd: Path | None = None, stdin: bytes | None = None, timeout_s: float = 120
) -> str:
    """What `command` printed, once it exited 0 within `timeout_s` (else the test fails, with
    its stderr)."""
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        stdin=None if stdin is None else asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), timeout=timeout_s)
    assert process.returncode == 0, f"{command[0]} failed:\n{err.decode()}"
    return out.decode()


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_citestream(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`citestream ARGS`, expected to end on its own (a refusal, a failed start), with the fake
    model, warnings-only logging and the further CITESTREAM_ variables `env`."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "CITESTREAM_DATA_DIR": str(tmp_path / "data"),
            "CITESTREAM_LLM__PROVIDER": "fake",
            "CITESTREAM_SERVER__LOG_LEVEL": "warning",
            **env,
        },
        timeout=120,
        check=False,
    )


def shared_state_env(
    make_settings: Callable[..., Settings],
    postgres_url: str,
    *,
    tokens: int,
    delay_ms: int = 20,
    **settings: str,
) -> dict[str, str]:
    """The environment of server processes that share state as several workers do: the test
    corpus in PostgreSQL, Redis, the fake model (`tokens` at `delay_ms`); `settings` are
    further CITESTREAM_ variables (without the prefix, e.g. SERVER__DRAIN_S="2")."""
    data_dir = make_settings(database_url=postgres_url).data_dir
    return {
        "CITESTREAM_DATA_DIR": str(data_dir),
        "CITESTREAM_DATABASE__URL": postgres_url,
        "CITESTREAM_REDIS__URL": redis_url(),
        "CITESTREAM_LLM__PROVIDER": "fake",
        "CITESTREAM_LLM__FAKE_TOKENS": str(tokens),
        "CITESTREAM_LLM__FAKE_DELAY_MS": str(delay_ms),
        "CITESTREAM_SERVER__LOG_LEVEL": "warning",
        **{f"CITESTREAM_{name}": value for name, value in settings.items()},
    }


@dataclass
class Worker:
    """A `citestream serve` process: where it listens, and the process (to signal or kill)."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def worker_processes(count: int, env: dict[str, str], log_dir: Path) -> Iterator[list[Worker]]:
    """Start `count` servers with the same settings, ready (their /readyz answers 200)."""
    processes: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    logs: list[IO[bytes]] = []
    try:
        for number in range(count):
            port = free_port()
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
        workers = [
            Worker(url, process, log_dir / f"worker-{number}.log")
            for number, (url, process) in enumerate(zip(urls, processes, strict=True))
        ]
        for worker in workers:
            _wait_until_healthy(worker.url, worker.process, worker.log)
        yield workers
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            process.wait(timeout=60)
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


@dataclass
class Workers(Worker):
    """`citestream serve --workers N`: one parent process, its workers, one URL."""

    def served_by(self, response: httpx.Response) -> int:
        """The pid of the worker holding the (still open) connection `response` came on."""
        client_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
        for child in psutil.Process(self.process.pid).children():
            with contextlib.suppress(psutil.NoSuchProcess):
                for connection in child.net_connections(kind="tcp"):
                    if connection.raddr and connection.raddr.port == client_port:
                        return int(child.pid)
        raise AssertionError(f"no worker holds the connection from port {client_port}")


@contextlib.contextmanager
def serve_with_workers(count: int, env: dict[str, str], log_dir: Path) -> Iterator[Workers]:
    """Start `citestream serve --workers count`, and return once each worker has answered
    /readyz with 200 (each request on a new connection, which any worker may accept)."""
    port = free_port()
    with (log_dir / "workers.log").open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli",
                "serve",
                "--workers",
                str(count),
                "--port",
                str(port),
            ],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        workers = Workers(f"http://127.0.0.1:{port}", process, log_dir / "workers.log")
        try:
            _wait_until_each_ready(workers, count)
            yield workers
        finally:
            if process.poll() is None:
                process.terminate()
            process.wait(timeout=60)


def _wait_until_each_ready(workers: Workers, count: int) -> None:
    ready: set[int] = set()
    # Generous: two workers import and start at once on two shared cores.
    deadline = time.monotonic() + 120
    while len(ready) < count:
        if workers.process.poll() is not None:
            raise RuntimeError(f"citestream serve exited:\n{workers.output()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(ready)} of {count} workers ready:\n{workers.output()}")
        with contextlib.suppress(httpx.TransportError), httpx.Client() as client:
            response = client.get(f"{workers.url}/readyz")
            if response.status_code == 200:
                ready.add(workers.served_by(response))
        time.sleep(0.05)

"""Load: many answers streaming at once from one real `citestream serve`. Prints a table and draws
a chart.

For each scenario (backend, workers) and each N of `--streams`, N clients `POST
/api/chat/stream` at the same moment and read their answers to the end, `--waves` times on the
same server. The model is the fake one, `--tokens` tokens at `--delay-ms` each (by default 200
at 20 ms: 4 s of generation), so every figure above that is the server's.

The clients run in processes of their own (`--clients`, each opening its share of the N) with a
minimal HTTP/1.1 + SSE reader on asyncio's protocol callbacks: on this 2-core machine they share
the cores with the server, so their CPU is measured and printed next to the server's. Per stream:
time to first `message`, every gap between two `message` events, and how it ended: `source` is
a success; `error` (its code), an HTTP status other than 200, a connection that ended early
(`cut`) or an answer not done within `--timeout` are failures.

Server figures cover the server process and its children (the workers): CPU from the moment the
clients start to the moment the answers are over, and resident memory (RSS): idle before each
wave, when every stream has had its first message (open - idle, divided by the streams open
then, is the memory of one open stream; the table gives the first wave's, since later waves
reuse what the first took), and after the wave, once the streams have closed and
the server has settled. Three waves show whether memory comes back: the last wave's RSS after
is compared with the first's.

The local user (loopback, no keys) is exempt from the per-key limits, and the deployment-wide
cap on generations has no default for the fake provider, so nothing is refused by admission
control; no CITESTREAM_ADMISSION__ setting is changed.

Usage: `make load` (SQLite with one worker at 100, 300 and 1000 streams; PostgreSQL + Redis with
two workers at 2000), or e.g. `uv run python -m bench.load --streams 100,300 --waves 3`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import TypeAlias, cast
from urllib.parse import urlsplit

import httpx
import psutil  # type: ignore[import-untyped]

from bench.servers import PROJECT, ingest, server_env, server_process
from bench.streaming import postgres_database

QUESTION = "How do I cancel a stream?"
REDIS_URL = "redis://127.0.0.1:6379/12"
# A multiprocessing.Value("i"), shared by the clients and the bench.
Counter: TypeAlias = "Synchronized[int]"


# --- The client: one process's share of the streams -----------------------------------------


@dataclass
class Counters:
    """Shared with the bench, so it can sample the server's memory when every stream is open.
    `reached`: streams that had their first message or ended without one; `open`: streams that
    had their first message and have not ended."""

    reached: Counter
    open: Counter


def _bump(counter: Counter, by: int) -> None:
    with counter.get_lock():
        counter.value += by


class SseStream(asyncio.Protocol):
    """One `POST /api/chat/stream`, read as raw bytes: the status line and headers, chunked
    transfer coding, then SSE events split on their blank line. Only the event's name is read
    (and an error's data): at a thousand streams the client must cost little next to the
    server it measures."""

    def __init__(self, request: bytes, counters: Counters, done: asyncio.Future[None]) -> None:
        self.request = request
        self.counters = counters
        self.done = done
        self.started = time.perf_counter()
        self.transport: asyncio.Transport | None = None
        self.status = 0
        self.chunked = False
        self.raw = b""  # bytes not yet decoded (headers, or a chunk header cut in two)
        self.chunk_left = 0  # bytes of the current chunk's data still to come
        self.ended = False  # the last chunk came
        self.sse = b""  # decoded SSE text not yet split into events
        self.first: float | None = None
        self.last = 0.0
        self.gaps: list[float] = []
        self.outcome: str | None = None
        self.duration = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if not self.status:
            self.raw += data
            end = self.raw.find(b"\r\n\r\n")
            if end < 0:
                return
            head, data, self.raw = self.raw[:end], self.raw[end + 4 :], b""
            self.status = int(head.split(b" ", 2)[1])
            self.chunked = b"transfer-encoding: chunked" in head.lower()
        if self.status != 200:
            self.raw += data
            self._refused()
            return
        self.sse += self._dechunk(data) if self.chunked else data
        if b"\r\n\r\n" in self.sse:
            *events, self.sse = self.sse.split(b"\r\n\r\n")
            self._events(events, now)
        if self.ended:
            self.finish("cut")

    def _events(self, events: list[bytes], now: float) -> None:
        for event in events:
            start = event.find(b"event: ")
            if start < 0:
                continue
            end = event.find(b"\r\n", start)
            name = event[start + 7 : end if end >= 0 else None]
            if name == b"message":
                if self.first is None:
                    self.first = now
                    _bump(self.counters.reached, 1)
                    _bump(self.counters.open, 1)
                else:
                    self.gaps.append(now - self.last)
                self.last = now
            elif name == b"source":
                self.finish("ok")
            elif name == b"error":
                self.finish(f"error {_error_code(event)}")

    def _dechunk(self, data: bytes) -> bytes:
        raw = self.raw + data if self.raw else data
        out, pos, size = [], 0, len(raw)
        while pos < size:
            if self.chunk_left:
                take = min(self.chunk_left, size - pos)
                out.append(raw[pos : pos + take])
                pos += take
                self.chunk_left -= take
                continue
            line_end = raw.find(b"\r\n", pos)
            if line_end < 0:
                break
            line, pos = raw[pos:line_end], line_end + 2
            if not line:  # the CRLF that closes a chunk's data
                continue
            self.chunk_left = int(line.split(b";", 1)[0], 16)
            if not self.chunk_left:  # the last chunk: after it, no `source` means a failure
                self.ended = True
                break
        self.raw = raw[pos:]
        return b"".join(out)

    def _refused(self) -> None:
        with suppress(ValueError):
            body = self.raw[self.raw.index(b"{") :]
            code = json.loads(body).get("code", "")
            self.finish(f"http {self.status} {code}".rstrip())

    def connection_lost(self, exc: Exception | None) -> None:
        self.finish(f"http {self.status}" if self.status not in (0, 200) else "cut")

    def finish(self, outcome: str) -> None:
        if self.outcome is not None:
            return
        self.outcome = outcome
        self.duration = time.perf_counter() - self.started
        if self.first is None:
            _bump(self.counters.reached, 1)
        else:
            _bump(self.counters.open, -1)
        if self.transport is not None:
            self.transport.close()
        if not self.done.done():
            self.done.set_result(None)


def _error_code(event: bytes) -> str:
    start = event.find(b"data: ")
    try:
        return str(json.loads(event[start + 6 :].split(b"\r\n", 1)[0])["code"])
    except (ValueError, KeyError, TypeError):
        return "?"


# One stream's result, small to pickle: outcome, time to first message (s), gaps (s), duration.
Result = tuple[str, float | None, list[float], float]


async def _one_stream(
    host: str, port: int, request: bytes, counters: Counters, timeout_s: float
) -> Result:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    stream = SseStream(request, counters, done)
    try:
        await loop.create_connection(lambda: stream, host, port)
    except OSError as error:
        stream.finish(f"connect {error.strerror or type(error).__name__}")
    try:
        await asyncio.wait_for(done, timeout_s)
    except TimeoutError:
        stream.finish("timeout")
    ttfm = None if stream.first is None else stream.first - stream.started
    return stream.outcome or "cut", ttfm, stream.gaps, stream.duration


async def _open_streams(url: str, n: int, counters: Counters, timeout_s: float) -> list[Result]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    body = json.dumps({"query": QUESTION}).encode()
    request = (
        f"POST /api/chat/stream HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Content-Type: application/json\r\nAccept: text/event-stream\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    return await asyncio.gather(
        *(_one_stream(host, port, request, counters, timeout_s) for _ in range(n))
    )


def raise_open_files() -> None:
    """Thousands of sockets: the soft limit up to the hard one (inherited by the server)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def client_process(
    url: str, n: int, timeout_s: float, counters: Counters, go: object, conn: Connection
) -> None:
    """A client process: says it is ready, waits for `go`, opens its `n` streams at once and
    sends back their results and the CPU it used doing so."""
    raise_open_files()
    with suppress(ImportError):
        import uvloop

        uvloop.install()
    conn.send("ready")
    go.wait()  # type: ignore[attr-defined]
    before = resource.getrusage(resource.RUSAGE_SELF)
    results = asyncio.run(_open_streams(url, n, counters, timeout_s))
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    conn.send((results, cpu))
    conn.close()


# --- The bench: waves against one server ----------------------------------------------------


def _server_processes(server: psutil.Process) -> list[psutil.Process]:
    with suppress(psutil.Error):
        return [server, *server.children(recursive=True)]
    return [server]


def server_rss(server: psutil.Process) -> int:
    total = 0
    for process in _server_processes(server):
        with suppress(psutil.Error):
            total += process.memory_info().rss
    return total


def server_cpu(server: psutil.Process) -> float:
    """CPU seconds of the server and its children, living or (for the server's own) ended."""
    total = 0.0
    for process in _server_processes(server):
        with suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    with suppress(psutil.Error):
        times = server.cpu_times()
        total += times.children_user + times.children_system
    return total


def _quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))]


@dataclass
class Wave:
    n: int
    results: list[Result]
    wall_s: float
    server_cpu_s: float
    client_cpu_s: float
    idle_rss: int
    open_rss: int | None
    open_streams: int
    after_rss: int
    kept_runs: int  # ended runs one worker keeps in memory after the wave (for resumes)
    redis_errors: int  # the conversation cache's and admission's, as one worker counts them

    @property
    def failures(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for outcome, *_ in self.results:
            if outcome != "ok":
                counts[outcome] = counts.get(outcome, 0) + 1
        return counts

    @property
    def rss_per_stream(self) -> float | None:
        if self.open_rss is None or not self.open_streams:
            return None
        return (self.open_rss - self.idle_rss) / self.open_streams


def _metrics(url: str, *names: str) -> list[float]:
    """Unlabelled metrics' values as the worker that answers sees them, from one scrape (0 for
    one that cannot be read)."""
    values = dict.fromkeys(names, 0.0)
    try:
        for line in httpx.get(f"{url}/metrics", timeout=5).text.splitlines():
            name, _, value = line.partition(" ")
            if name in values:
                values[name] = float(value)
    except httpx.HTTPError:
        pass
    return list(values.values())


def _redis_errors(url: str) -> float:
    return sum(
        _metrics(url, "citestream_cache_errors_total", "citestream_admission_store_errors_total")
    )


def _active_streams(url: str) -> float:
    [active] = _metrics(url, "citestream_active_streams")
    return active


def settle(url: str, seconds: float) -> None:
    """Until the answers' clean-up is over (the gauge of open streams at 0, as one worker sees
    it), then `seconds` more."""
    deadline = time.monotonic() + 60
    while _active_streams(url) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(seconds)


def run_wave(
    url: str, server: psutil.Process, n: int, clients: int, timeout_s: float, settle_s: float
) -> Wave:
    context = multiprocessing.get_context("spawn")
    counters = Counters(context.Value("i", 0), context.Value("i", 0))
    go = context.Event()
    shares = [n // clients + (i < n % clients) for i in range(clients)]
    pipes, processes = [], []
    for share in filter(None, shares):
        ours, theirs = context.Pipe(duplex=False)
        process = context.Process(
            target=client_process, args=(url, share, timeout_s, counters, go, theirs)
        )
        process.start()
        theirs.close()
        pipes.append(ours)
        processes.append(process)
    try:
        for pipe in pipes:
            if not pipe.poll(60) or pipe.recv() != "ready":
                raise RuntimeError("a client process did not start")
        idle_rss = server_rss(server)
        redis_errors_before = _redis_errors(url)
        cpu_before = server_cpu(server)
        started = time.monotonic()
        go.set()
        open_rss, open_streams = None, 0
        results: list[Result] = []
        client_cpu, waiting, wall = 0.0, list(pipes), 0.0
        while waiting and time.monotonic() < started + timeout_s + 30:
            if open_rss is None and counters.reached.value >= n:
                open_rss, open_streams = server_rss(server), counters.open.value
            for reported in wait(waiting, timeout=0.02):
                assert isinstance(reported, Connection)
                share_results, cpu = reported.recv()
                results += share_results
                client_cpu += cpu
                waiting.remove(reported)
                wall = time.monotonic() - started
        if waiting:
            raise RuntimeError(f"{len(waiting)} client process(es) did not report in time")
        settle(url, settle_s)
        return Wave(
            n=n,
            results=results,
            wall_s=wall,
            server_cpu_s=server_cpu(server) - cpu_before,
            client_cpu_s=client_cpu,
            idle_rss=idle_rss,
            open_rss=open_rss,
            open_streams=open_streams,
            after_rss=server_rss(server),
            kept_runs=round(_metrics(url, "citestream_runs_kept")[0]),
            redis_errors=round(_redis_errors(url) - redis_errors_before),
        )
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()


@dataclass
class Row:
    """The waves of one (backend, workers, N)."""

    backend: str
    workers: int
    n: int
    waves: list[Wave] = field(default_factory=list)

    def ttfm_ms(self) -> list[float]:
        return sorted(r[1] * 1000 for w in self.waves for r in w.results if r[1] is not None)

    def gaps_ms(self) -> list[float]:
        return sorted(g * 1000 for w in self.waves for r in w.results for g in r[2])

    def figures(self) -> dict[str, float]:
        ttfm, gaps = self.ttfm_ms(), self.gaps_ms()
        # The first wave's: what a burst of N takes from a server that had not carried N yet.
        # Later waves reuse that memory and show next to nothing, which is no measure of a
        # stream's cost.
        first = self.waves[0].rss_per_stream if self.waves else None
        return {
            "ttfm_p50": _quantile(ttfm, 0.5),
            "ttfm_p99": _quantile(ttfm, 0.99),
            "gap_p99": _quantile(gaps, 0.99),
            "rss_kb": first / 1024 if first is not None else float("nan"),
        }


def print_wave(row: Row, index: int, wave: Wave) -> None:
    ttfm = sorted(r[1] * 1000 for r in wave.results if r[1] is not None)
    gaps = sorted(g * 1000 for r in wave.results for g in r[2])
    failures = ", ".join(f"{k}: {v}" for k, v in sorted(wave.failures.items())) or "none"
    per_stream = wave.rss_per_stream
    print(
        f"  {row.backend} x{row.workers} N={row.n} wave {index}: failures {failures}; "
        f"TTFM p50 {_quantile(ttfm, 0.5):.0f} ms p99 {_quantile(ttfm, 0.99):.0f} ms; "
        f"gap p99 {_quantile(gaps, 0.99):.0f} ms; wall {wave.wall_s:.1f} s; "
        f"server CPU {wave.server_cpu_s:.1f} s, clients {wave.client_cpu_s:.1f} s; RSS idle "
        f"{wave.idle_rss / 2**20:.0f} MB, open {_mb(wave.open_rss)} "
        f"({wave.open_streams} open, "
        f"{'n/a' if per_stream is None else f'{per_stream / 1024:.0f} KB'}/stream), "
        f"after {wave.after_rss / 2**20:.1f} MB ({wave.kept_runs} ended runs kept by a worker)"
        f"{f'; Redis errors {wave.redis_errors}' if wave.redis_errors else ''}",
        flush=True,
    )


def _mb(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:.0f} MB"


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'backend':<9}{'workers':>8}{'N':>6}{'failed':>10}{'TTFM p50':>10}{'TTFM p99':>10}"
        f"{'gap p99':>9}{'wall':>8}{'srv CPU':>9}{'cli CPU':>9}{'RSS/str':>9}"
        f"  RSS after waves (MB)"
    )
    print()
    print(header)
    print("-" * len(header))
    for row in rows:
        figures = row.figures()
        failed = sum(sum(w.failures.values()) for w in row.waves)
        total = sum(len(w.results) for w in row.waves)
        afters = [w.after_rss / 2**20 for w in row.waves]
        drift = f" ({(afters[-1] - afters[0]) / afters[0] * 100:+.1f} %)" if len(afters) > 1 else ""
        print(
            f"{row.backend:<9}{row.workers:>8}{row.n:>6}{f'{failed}/{total}':>10}"
            f"{figures['ttfm_p50']:>8.0f}ms{figures['ttfm_p99']:>8.0f}ms"
            f"{figures['gap_p99']:>7.0f}ms"
            f"{statistics.median(w.wall_s for w in row.waves):>7.1f}s"
            f"{statistics.mean(w.server_cpu_s for w in row.waves):>8.1f}s"
            f"{statistics.mean(w.client_cpu_s for w in row.waves):>8.1f}s"
            f"{figures['rss_kb']:>7.0f}KB  " + " -> ".join(f"{a:.1f}" for a in afters) + drift
        )
    print(
        "(figures pooled over the waves; wall, CPU: per wave; RSS/str: (RSS with every stream "
        "open - idle) / open streams, in the first wave)"
    )


def draw_chart(rows: list[Row], path: Path, model: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    series: dict[tuple[str, int], list[Row]] = {}
    for row in rows:
        series.setdefault((row.backend, row.workers), []).append(row)
    for (backend, workers), group in series.items():
        group.sort(key=lambda row: row.n)
        ns = [row.n for row in group]
        figures = [row.figures() for row in group]
        label = f"{backend}, {workers} worker{'s' if workers > 1 else ''}"
        (line,) = left.plot(ns, [f["ttfm_p50"] for f in figures], "o-", label=f"{label}: p50")
        left.plot(
            ns,
            [f["ttfm_p99"] for f in figures],
            "s--",
            color=line.get_color(),
            label=f"{label}: p99",
        )
        right.plot(ns, [f["gap_p99"] for f in figures], "o-", label=label)
    left.set_title("Time to first message")
    right.set_title("Gap between two messages, p99")
    every_n = sorted({row.n for row in rows})
    for axes in (left, right):
        axes.set_xscale("log")
        axes.set_xticks(every_n, [str(n) for n in every_n])
        axes.minorticks_off()
        axes.set_ylim(bottom=0)
        axes.set_xlabel("concurrent streams")
        axes.set_ylabel("ms")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize="small")
    figure.suptitle(
        f"One POST /api/chat/stream per client, fake model ({model}), 2 cores shared with the "
        "clients",
        fontsize="medium",
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    print(f"chart: {path}")


# --- Scenarios ------------------------------------------------------------------------------


@dataclass
class Scenario:
    backend: str
    workers: int
    streams: list[int]


def serve_has_workers() -> bool:
    help_text = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    ).stdout
    return "--workers" in help_text


@contextmanager
def backend_env(
    backend: str, scratch: Path, tokens: int, delay_ms: float
) -> Iterator[dict[str, str]]:
    model = {
        "LLM__PROVIDER": "fake",
        "LLM__FAKE_DELAY_MS": f"{delay_ms:g}",
        "LLM__FAKE_TOKENS": str(tokens),
    }
    data_dir = scratch / f"{backend}-{uuid.uuid4().hex[:6]}"
    if backend == "sqlite":
        yield server_env(data_dir, **model)
        return
    with postgres_database() as database:
        env = server_env(
            data_dir,
            **model,
            DATABASE__URL=database,
            REDIS__URL=REDIS_URL,
            ADMISSION__KEY_PREFIX=f"citestream:bench-load-{uuid.uuid4().hex[:8]}",
        )
        subprocess.run(
            [sys.executable, "-m", "app.cli", "db", "upgrade"],
            env=env,
            check=True,
            capture_output=True,
        )
        yield env


@contextmanager
def profiling(pid: int, path: Path | None, rate: int = 100) -> Iterator[None]:
    """py-spy on the server (and its workers) for the duration of the block, `rate` samples a
    second (py-spy pauses the process for each: a high rate slows the server it measures)."""
    if path is None:
        yield
        return
    py_spy = Path(sys.executable).parent / "py-spy"
    recorder = subprocess.Popen(
        [
            *(str(py_spy), "record", "--pid", str(pid), "--subprocesses", "--rate", str(rate)),
            *("--output", str(path)),
            # A flame graph for .svg; collapsed stacks (to add up by function) for .txt.
            *(("--format", "raw") if path.suffix == ".txt" else ()),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)
        try:
            _, errors = recorder.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            recorder.kill()
            _, errors = recorder.communicate()
        if recorder.returncode:
            print(f"py-spy failed: {errors.decode(errors='replace').strip()[-400:]}")
        else:
            print(f"profile of the server: {path}")


def machine_line() -> str:
    """The machine the figures come from, and how fast one of its cores runs plain Python: the
    same code gave twice the times on one 2-core machine as on another, so a table is only
    comparable with tables that carry the same speed."""
    model = "unknown CPU"
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    started = time.perf_counter()
    total = 0
    for number in range(10_000_000):
        total += number
    elapsed = time.perf_counter() - started
    return (
        f"machine: {model}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; "
        f"a pure-Python loop of 10 M additions takes {elapsed:.2f} s"
    )


def run_scenario(scenario: Scenario, arguments: argparse.Namespace, scratch: Path) -> list[Row]:
    extra = ("--workers", str(scenario.workers)) if scenario.workers > 1 else ()
    print(f"{scenario.backend}, {scenario.workers} worker(s):", flush=True)
    rows = []
    with ExitStack() as stack:
        env = stack.enter_context(
            backend_env(scenario.backend, scratch, arguments.tokens, arguments.delay_ms)
        )
        ingest(env, PROJECT / "docs")
        log = scratch / f"server-{scenario.backend}-{scenario.workers}.log"
        url, process = stack.enter_context(server_process(env, *extra, log=log))
        server = psutil.Process(process.pid)
        # A few answers first, on every worker: a worker's first request pays for imports and
        # caches no later one does (with two workers, warming one left the other's first wave
        # slower, with fewer streams open at its peak and less memory taken than later waves).
        run_wave(url, server, 10 * scenario.workers, 1, arguments.timeout, 0.5)
        largest = max(scenario.streams)
        for n in scenario.streams:
            row = Row(scenario.backend, scenario.workers, n)
            for index in range(1, arguments.waves + 1):
                profile = None
                if arguments.profile is not None and n == largest and index == 1:
                    profile = arguments.profile
                    if len(arguments.scenarios) > 1:
                        profile = profile.with_name(
                            f"{profile.stem}-{scenario.backend}-{scenario.workers}w{profile.suffix}"
                        )
                with profiling(process.pid, profile, arguments.profile_rate):
                    wave = run_wave(
                        url, server, n, arguments.clients, arguments.timeout, arguments.settle
                    )
                row.waves.append(wave)
                print_wave(row, index, wave)
            rows.append(row)
        if process.poll() is not None:
            print(f"the server exited ({process.returncode}); its log: {log.read_text()[-2000:]}")
    if any(wave.failures for row in rows for wave in row.waves):
        # The scratch directory goes; the log of what failed stays.
        kept = Path(tempfile.gettempdir()) / f"citestream-load-{uuid.uuid4().hex[:6]}.log"
        shutil.copyfile(log, kept)
        print(f"  failures: the server's log (warnings and errors) is kept in {kept}")
    return rows


def _scenario(text: str) -> Scenario:
    backend, workers, streams = text.split(":")
    if backend not in ("sqlite", "postgres"):
        raise argparse.ArgumentTypeError(f"unknown backend {backend!r}")
    return Scenario(backend, int(workers), [int(n) for n in streams.split(",")])


def main() -> None:
    parser = argparse.ArgumentParser(description="Load benchmark: many concurrent answers")
    parser.add_argument("--streams", help="N to run, e.g. 100,300,1000 (one scenario)")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--scenario",
        dest="scenarios",
        type=_scenario,
        action="append",
        help="BACKEND:WORKERS:N,N,... (repeatable); the default set is "
        "sqlite:1:100,300,1000 and postgres:2:2000",
    )
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--waves", type=int, default=3)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds, per wave")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds after each wave")
    parser.add_argument("--chart", type=Path, default=PROJECT / "docs" / "images" / "load.png")
    parser.add_argument(
        "--profile",
        type=Path,
        help="py-spy of the largest N: a flame graph (.svg) or stacks (.txt)",
    )
    parser.add_argument("--profile-rate", type=int, default=100, help="py-spy's samples per second")
    arguments = parser.parse_args()
    if arguments.streams or not arguments.scenarios:
        default = [Scenario("sqlite", 1, [100, 300, 1000]), Scenario("postgres", 2, [2000])]
        arguments.scenarios = (arguments.scenarios or []) + (
            [
                Scenario(
                    arguments.backend,
                    arguments.workers,
                    [int(n) for n in arguments.streams.split(",")],
                )
            ]
            if arguments.streams
            else default
        )
    raise_open_files()
    print(machine_line(), flush=True)
    has_workers = serve_has_workers()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as scratch:
        for scenario in arguments.scenarios:
            if scenario.workers > 1 and not has_workers:
                print(
                    f"skipped {scenario.backend} with {scenario.workers} workers: this "
                    "`citestream serve` has no --workers option"
                )
                continue
            if scenario.workers > 1 and scenario.backend == "sqlite":
                print("skipped sqlite with several workers: they need PostgreSQL and Redis")
                continue
            rows += run_scenario(scenario, arguments, Path(scratch))
    print_table(rows)
    if rows and arguments.chart:
        draw_chart(rows, arguments.chart, f"{arguments.tokens} tokens at {arguments.delay_ms:g} ms")


if __name__ == "__main__":
    main()

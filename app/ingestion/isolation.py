"""Read each file in a process of its own, under CPU-time, wall-time and memory limits.

A 46 KB PDF can hold half an hour of pypdf work, and a thread cannot be stopped: it kept a core
busy and shutdown waiting. Here every parse is a fresh process, forked from multiprocessing's
fork server (which has the readers imported, so a parse starts in milliseconds); the child sets
RLIMIT_CPU and RLIMIT_AS on itself, and the parent kills it when the wall time is up, when the
request that asked for it is cancelled (its client left), or when the app closes. The parent
only waits on a pipe in a worker thread: the event loop keeps serving.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import resource
import signal
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from typing import Any

import anyio

from app.core.errors import CitestreamError, ParseLimitExceeded, ServiceUnavailable
from app.core.settings import IngestionSettings, LimitsSettings
from app.ingestion.media_types import media_type_of
from app.ingestion.parser import DocumentParser, ParsedFile
from app.ingestion.readers import UnreadableDocument

logger = logging.getLogger(__name__)

# The fork server imports these once (the second reads a file, loading the tokenizer and the
# sentence model); every parse process starts with them loaded.
_PRELOAD = ["app.ingestion.isolation", "app.ingestion.preload"]
_KILL_WAIT_S = 5.0


@dataclass(frozen=True)
class _Refusal:
    """A domain error raised in the child, carried over the pipe as plain fields."""

    message: str
    code: str
    status: int
    title: str
    errors: list[dict[str, Any]]
    reason: str


class RefusedDocument(CitestreamError):
    """The child's refusal of a file (unreadable, too large...), as the parent raises it."""

    def __init__(self, refusal: _Refusal) -> None:
        super().__init__(
            refusal.message, refusal.code, refusal.status, refusal.title, refusal.errors
        )
        self.reason = refusal.reason


class IsolatedParser:
    """Parses files in child processes bounded by the limits settings."""

    def __init__(self, ingestion: IngestionSettings, limits: LimitsSettings) -> None:
        self._ingestion = ingestion
        self._limits = limits
        self._context: ForkServerContext = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(_PRELOAD)
        self._running: set[BaseProcess] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._turns = anyio.CapacityLimiter(limits.parse_concurrency)
        # Threads of its own, so waiting on parses never takes the shared pool's threads.
        self._threads = anyio.CapacityLimiter(2 * limits.parse_concurrency + 1)

    @property
    def running(self) -> int:
        """How many parse processes are started and not yet reaped."""
        # Not `is_alive()`: polling a forkserver child reads its exit status off a pipe, and
        # two threads polling at once (this and the join in `_stop`) race for those bytes;
        # the loser records exit code 255, a 500 for what was a CPU-limit 422.
        with self._lock:
            return len(self._running)

    def warm(self) -> None:
        """Start the fork server now rather than at the first upload: it imports the readers,
        which takes seconds. Blocking: call off the event loop."""
        # Starting the fork server does not wait for its imports; a first child does.
        process = self._context.Process(target=_ready, name="citestream-parse warm-up")
        process.start()
        process.join()

    def media_type_of(self, name: str) -> str:
        """The media type a file name is read as; an unsupported type is a 415."""
        return media_type_of(name)

    async def parse(self, name: str, data: bytes) -> ParsedFile:
        """The file read and chunked in a child process; 422 naming the limit it passed. At
        most `parse_concurrency` at once; the others wait."""
        async with self._turns:
            return await self._parse(name, data)

    async def _parse(self, name: str, data: bytes) -> ParsedFile:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_parse_in_child,
            args=(child, name, self._ingestion, self._limits),
            name=f"citestream-parse {name}",
            daemon=True,
        )
        outcome: ParsedFile | _Refusal | str | None = None
        exchanging = False
        try:
            try:
                await anyio.to_thread.run_sync(self._start, process, limiter=self._threads)
            finally:
                child.close()  # the child has its own copy; EOF reaches us when it dies
            with anyio.move_on_after(self._limits.parse_wall_s) as deadline:
                exchanging = True
                # Abandoned on timeout or cancellation: killing the child ends the exchange,
                # and the thread closes the pipe.
                outcome = await anyio.to_thread.run_sync(
                    _exchange, parent, data, abandon_on_cancel=True, limiter=self._threads
                )
            if deadline.cancelled_caught:
                raise ParseLimitExceeded(
                    name,
                    f"reading it took longer than {self._limits.parse_wall_s:g} s",
                    "CITESTREAM_LIMITS__PARSE_WALL_S",
                )
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._stop, process, limiter=self._threads)
            if not exchanging:
                parent.close()
        if isinstance(outcome, ParsedFile):
            return outcome
        if isinstance(outcome, _Refusal):
            raise RefusedDocument(outcome)
        if self._closed:
            raise ServiceUnavailable(
                "The server is shutting down; the upload was not stored. Send it again.",
                code="shutting_down",
                retry_after_s=2,
            )
        raise self._failure(name, process.exitcode, outcome)

    async def aclose(self) -> None:
        """Kill every parse still running (the app is closing)."""
        self._closed = True
        with self._lock:
            processes = list(self._running)
        for process in processes:
            # Only the parse that started a process joins it (see `running`); a kill is a
            # signal, safe from here.
            with contextlib.suppress(OSError):
                process.kill()
        with anyio.move_on_after(_KILL_WAIT_S):
            while self.running:  # noqa: ASYNC110 - the parses reap their own processes
                await anyio.sleep(0.05)

    def _start(self, process: BaseProcess) -> None:
        process.start()
        with self._lock:
            self._running.add(process)

    def _stop(self, process: BaseProcess) -> None:
        if process.pid is None:
            return  # it never started
        if process.is_alive():
            process.kill()
        process.join(_KILL_WAIT_S)
        with self._lock:
            self._running.discard(process)

    def _failure(self, name: str, exitcode: int | None, outcome: str | None) -> CitestreamError:
        limits = self._limits
        # A SIGKILL we did not send is the kernel's: its OOM killer.
        if outcome == "memory" or exitcode == -signal.SIGKILL:
            return ParseLimitExceeded(
                name,
                f"reading it needed more than {limits.parse_memory_bytes // 2**20} MB of memory",
                "CITESTREAM_LIMITS__PARSE_MEMORY_BYTES",
            )
        if exitcode == -signal.SIGXCPU:
            return ParseLimitExceeded(
                name,
                f"reading it took more than {limits.parse_cpu_s:g} s of CPU time",
                "CITESTREAM_LIMITS__PARSE_CPU_S",
            )
        logger.error("The parse process for %s ended with exit code %s", name, exitcode)
        return CitestreamError(f"{name}: the file could not be read; it was not stored.")


def _ready() -> None:
    """A child that does nothing: started to wait until the fork server is ready."""


def _exchange(connection: Connection, data: bytes) -> ParsedFile | _Refusal | str | None:
    """Send the file, receive what the child made of it; None if the child died."""
    try:
        with contextlib.suppress(OSError):
            # A child that stopped reading (its memory ran out while it received the file)
            # has still sent why before it closed its end.
            connection.send_bytes(data)
        outcome: ParsedFile | _Refusal | str = connection.recv()
        return outcome
    except (EOFError, OSError):
        return None
    finally:
        connection.close()


def _parse_in_child(
    connection: Connection, name: str, ingestion: IngestionSettings, limits: LimitsSettings
) -> None:
    """The parse process: limit itself, read the file from the pipe, send back the result."""
    cpu = max(1, int(limits.parse_cpu_s + 0.999))
    # At the soft limit the kernel sends SIGXCPU (which ends the process); a second later,
    # SIGKILL. No core file for either.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    with contextlib.suppress(ValueError, OSError):
        # Linux enforces it; macOS refuses to set it (the wall-time limit still applies).
        resource.setrlimit(resource.RLIMIT_AS, (limits.parse_memory_bytes,) * 2)
    outcome: ParsedFile | _Refusal | str
    try:
        outcome = DocumentParser(ingestion).parse(name, connection.recv_bytes())
    except CitestreamError as error:
        outcome = _refusal(error)
    except MemoryError:
        outcome = "memory"
    except Exception:
        # A library bug on an odd file (the chunker's, say) is still a clear 422.
        logger.exception("Could not read %s", name)
        outcome = _refusal(UnreadableDocument(name, "the file could not be read"))
    try:
        connection.send(outcome)
    except MemoryError:
        connection.send("memory")
    connection.close()


def _refusal(error: CitestreamError) -> _Refusal:
    reason = getattr(error, "reason", error.message)
    return _Refusal(error.message, error.code, error.status, error.title, error.errors, reason)

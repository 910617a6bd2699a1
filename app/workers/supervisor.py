"""`citestream serve --workers N`: N processes answering on one port.

The parent binds the socket and supervises with uvicorn's own supervisor (`Multiprocess`): it
pings the workers, replaces one that dies, forwards SIGTERM and SIGINT to them, and stops when
a worker fails to start rather than restarting it forever. Each worker builds the app in its own
process and runs our server on the shared socket (app/workers/process.py), so each drains on
SIGTERM as a single `citestream serve` does. The workers share nothing in memory: runs,
cancellations, claims and conversation windows go through PostgreSQL and Redis, so several
workers need both.
"""

from __future__ import annotations

import logging
import socket
from multiprocessing.connection import wait

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess

from app.core.settings import Settings
from app.core.startup import StartupFailure
from app.server import startup_failures
from app.workers.process import Worker

logger = logging.getLogger(__name__)

# A worker answers its supervisor's pings from a thread of its own, so a ping goes unanswered
# only while the worker is still importing uvicorn or is stuck. uvicorn's default of 5 s
# killed workers that were starting on a busy machine; a new worker (SIGHUP) also gets this
# long to open the database and start serving.
_HEALTHCHECK_S = 30


def refuse_unshared(settings: Settings) -> None:
    """Several workers need what carries state between processes: PostgreSQL and Redis (and a
    Qdrant server with dense retrieval). Refuse to start without them, naming the settings."""
    workers = settings.server.workers
    if workers == 1:
        return
    # SQLite is refused even with Redis: its writes would queue across processes in SQLite's
    # busy handler (see docs/operations.md, "SQLite"), and every worker would migrate the file
    # at start-up at the same time.
    missing = []
    if settings.database.url.startswith("sqlite"):
        missing.append("CITESTREAM_DATABASE__URL to a PostgreSQL database (it is SQLite)")
    if not settings.redis.url:
        missing.append("CITESTREAM_REDIS__URL")
    if settings.retrieval_mode != "lexical" and not settings.qdrant.url:
        # Embedded Qdrant opens in one process only: the other workers would never be ready.
        missing.append("CITESTREAM_QDRANT__URL (embedded Qdrant opens in one process only)")
    if missing:
        raise StartupFailure(
            f"{workers} workers need {' and '.join(missing)}: runs, cancellations and "
            "conversation windows are shared between workers only through PostgreSQL and Redis "
            "(or serve with --workers 1)"
        )


def serve_workers(settings: Settings, host: str, port: int) -> None:
    """Serve with `settings.server.workers` processes on one socket until a signal stops them,
    each draining first. A worker that fails to start stops them all and raises StartupFailure
    with that worker's one line."""
    refuse_unshared(settings)
    config = uvicorn.Config(
        # Never loaded: each worker builds its own app (see Worker.target).
        "app.main:create_app",
        host=host,
        port=port,
        workers=settings.server.workers,
        log_level=settings.server.log_level,
        log_config=None,
        timeout_worker_healthcheck=_HEALTHCHECK_S,
    )
    with startup_failures(host, port):
        listener = config.bind_socket()
    overrides: dict[str, object] = {"host": host, "port": port, "workers": settings.server.workers}
    supervisor = _Supervisor(config, [listener], overrides)
    try:
        supervisor.run()
    finally:
        listener.close()
    if supervisor.startup_failure is not None:
        raise StartupFailure(supervisor.startup_failure)


class _Supervisor(Multiprocess):
    """uvicorn's supervisor, with our workers. Where uvicorn creates its own `Process` (starting,
    replacing, SIGHUP, SIGTTIN), these methods are uvicorn's with `_spawn()` in its place."""

    def __init__(
        self, config: uvicorn.Config, sockets: list[socket.socket], overrides: dict[str, object]
    ) -> None:
        super().__init__(config, sockets)
        self._overrides = overrides
        self.startup_failure: str | None = None

    def _spawn(self) -> Worker:
        worker = Worker(self.config, self.sockets, self._overrides)
        worker.start()
        return worker

    def init_processes(self) -> None:
        self.processes = [self._spawn() for _ in range(self.processes_num)]

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        # Those that have exited first: a failed start is then seen at once, not after a ping
        # to a worker that is still importing has waited its full time.
        by_exit = sorted(enumerate(self.processes), key=lambda item: item[1].process.is_alive())
        for idx, process in by_exit:
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung: it answered no ping
            process.join()
            if process.exitcode == STARTUP_FAILURE and isinstance(process, Worker):
                # It would fail the same way on every restart: stop, and say why once.
                self.startup_failure = process.startup_failure()
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            logger.warning(
                "Worker [%s] exited (%s); starting another", process.pid, process.exitcode
            )
            self.processes[idx] = self._spawn()

    def restart_all(self) -> None:
        """SIGHUP: replace each worker, bringing its replacement into service first."""
        for idx, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._spawn()
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                logger.error("Worker [%s] was not ready in time; keeping [%s]", new.pid, old.pid)
                return
            old.terminate()
            old.join()
            self.processes[idx] = new

    def handle_ttin(self) -> None:
        self.processes_num += 1
        self.processes.append(self._spawn())

    def join_all(self) -> None:
        # The workers are draining. Another signal to the parent is passed on to them, which
        # stops them at once, as it does a single `citestream serve`.
        self.signal_queue.clear()
        running = [p for p in self.processes if p.process.is_alive()]
        while running:
            wait([p.process.sentinel for p in running], timeout=0.2)
            running = [p for p in running if p.process.is_alive()]
            if self.signal_queue:
                self.signal_queue.clear()
                for process in running:
                    process.process.terminate()
        super().join_all()

"""One worker process: spawned by the supervisor, it builds the app and runs our server.

This module is what a spawned worker must import before it can answer its supervisor's pings,
so it imports only uvicorn at the top; the app comes in once the pings are answered."""

from __future__ import annotations

import pickle
import socket
import sys
import threading
from multiprocessing import Pipe
from multiprocessing.connection import wait
from typing import TYPE_CHECKING

from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Process

if TYPE_CHECKING:
    import uvicorn


class Worker(Process):
    """A worker under uvicorn's supervisor, running our server instead of uvicorn's. It is
    pickled into a spawned process, so it holds only what pickles: the app, its container and
    its protocol class are built in the child, from the same `Settings()` as the parent's."""

    def __init__(
        self, config: uvicorn.Config, sockets: list[socket.socket], overrides: dict[str, object]
    ) -> None:
        super().__init__(config, sockets)
        # The command line's --host, --port and --workers, which the environment does not hold.
        self._overrides = overrides
        # Why it could not start, from the child to the parent.
        self._why_reader, self._why_writer = Pipe(duplex=False)
        self._why: str | None = None

    def join(self) -> None:
        super().join()
        # Read why before closing the pipe, whose two ends would otherwise outlive each worker
        # the supervisor replaces.
        if self._why_reader.closed:
            return
        if self._why_reader.poll():
            self._why = self._why_reader.recv()
        self._why_reader.close()
        self._why_writer.close()

    def startup_failure(self) -> str:
        """In the parent, once this worker has exited on a failed start: its one line."""
        return self._why or "a worker could not start"

    def _healthcheck(self, timeout: float) -> bool | None:
        # uvicorn's, but also woken by the worker's exit: the parent holds both ends of the
        # ping pipe, so a worker that exits mid-ping would cost its supervisor the whole
        # timeout before a failed start is seen.
        try:
            self.parent_conn.send(b"ping")
            if self.parent_conn in wait([self.parent_conn, self.process.sentinel], timeout):
                started: bool = self.parent_conn.recv()
                return started
            return None
        except (OSError, EOFError, pickle.UnpicklingError):
            return None

    def pong(self) -> None:
        # The parent pings from the moment the process exists; building the app takes a while.
        self.child_conn.recv()
        self.child_conn.send(self._server is not None and self._server.started)

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # in the child
        threading.Thread(target=self.always_pong, daemon=True).start()
        from app.core.errors import CitestreamError
        from app.core.startup import reason

        try:
            self._serve(sockets)
        except CitestreamError as error:
            self._fail(error.message)
        except Exception as error:
            if self._server is not None and self._server.started:
                raise
            # Before it served, any error would recur on every restart: a failed start.
            self._fail(f"could not start: {reason(error)}")

    def _serve(self, sockets: list[socket.socket] | None) -> None:
        from app.core.logs import configure_logging
        from app.core.settings import Settings
        from app.main import create_app
        from app.server import WorkerServer, draining_server, run

        settings = Settings()
        for name, value in self._overrides.items():
            setattr(settings.server, name, value)
        configure_logging(settings.server.log_level, settings.server.log_format)
        server = draining_server(
            create_app(settings),
            settings,
            settings.server.host,
            settings.server.port,
            kind=WorkerServer,
        )
        self._server = server
        run(server, sockets)

    def _fail(self, message: str) -> None:
        """Tell the parent why, once, and exit with the code its supervisor stops on."""
        self._why_writer.send(message)
        sys.exit(STARTUP_FAILURE)

"""Serving the app with uvicorn, so that a deploy loses nothing: on SIGTERM (or Ctrl+C) the
server first drains — readiness says `draining`, new questions get 503 with Retry-After,
answers in flight may finish for CITESTREAM_SERVER__DRAIN_S — and only then stops, closing
what is left. A second signal stops it at once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import sys
import time
from collections.abc import Iterator
from types import FrameType

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import PROBLEM_JSON, problem_body, url_too_long
from app.core.errors import CitestreamError
from app.core.malloc_arenas import limit_malloc_arenas
from app.core.settings import Settings
from app.core.startup import StartupFailure, reason
from app.lifecycle import AppLifecycle

logger = logging.getLogger(__name__)
# After the drain, connections and the lifespan's clean-up get this long.
_CLOSE_S = 4


class DrainingServer(uvicorn.Server):
    """uvicorn's server whose first shutdown signal drains before it stops."""

    def __init__(self, config: uvicorn.Config, app: FastAPI, drain_s: float) -> None:
        super().__init__(config)
        self._app = app
        self._drain_s = drain_s
        self._draining: asyncio.Task[None] | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._draining is not None or self.should_exit:
            # A second signal: stop now, without waiting for connections to close.
            self.should_exit = True
            self.force_exit = True
            return
        # A signal handler runs between two bytecodes of the loop's thread: hand the work to
        # the loop rather than touching it from here.
        asyncio.get_event_loop().call_soon_threadsafe(self._start_draining)

    def _start_draining(self) -> None:
        if self._draining is None:
            self._draining = asyncio.get_running_loop().create_task(self._drain_then_stop())

    async def _drain_then_stop(self) -> None:
        lifecycle: AppLifecycle | None = getattr(self._app.state, "lifecycle", None)
        try:
            if lifecycle is not None:
                logger.info("Draining for up to %gs before stopping", self._drain_s)
                await lifecycle.drain(self._drain_s)
        except Exception:
            logger.exception("Draining failed; stopping now")
        finally:
            self.should_exit = True


class WorkerServer(DrainingServer):
    """A worker's server under `citestream serve --workers`. One stop request often reaches a
    worker twice: Ctrl+C in a terminal, `timeout` or systemd signal every process of the group,
    and the parent forwards the signal it got. A signal within `_ECHO_S` of the first is taken
    for that same request, which drains; a later one stops at once, as for a single server."""

    _ECHO_S = 2.0
    _first_signal_at: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        if self._first_signal_at is None:
            self._first_signal_at = now
        elif now - self._first_signal_at < self._ECHO_S:
            return
        super().handle_exit(sig, frame)


def _refusal(url_chars: int, max_url_chars: int) -> bytes:
    """The whole HTTP response to a request uvicorn's parser refused, as problem+json."""
    if url_chars > max_url_chars:
        status, reason_phrase, body = 414, "URI Too Long", url_too_long(max_url_chars)
    else:
        status, reason_phrase = 400, "Bad Request"
        body = problem_body(
            400,
            "Bad request",
            "The request is not valid HTTP/1.1, or its request line or headers are too long.",
            "bad_request",
        )
    content = json.dumps(body).encode()
    head = (
        f"HTTP/1.1 {status} {reason_phrase}\r\ncontent-type: {PROBLEM_JSON}\r\n"
        f"content-length: {len(content)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + content


def problem_http_protocol(max_url_chars: int) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol, answering what its parser refuses (a URL of more than about
    64 KB, malformed HTTP) with problem+json instead of a plain-text 400: 414 `uri_too_long`
    for a URL past `max_url_chars`, else 400 `bad_request`."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # uvicorn without httptools: its h11 protocol
        from uvicorn.protocols.http.h11_impl import H11Protocol

        class ProblemH11(H11Protocol):
            def send_400_response(self, msg: str) -> None:
                self.transport.write(_refusal(0, max_url_chars))
                self.transport.close()

        return ProblemH11

    class ProblemHttpTools(HttpToolsProtocol):
        def send_400_response(self, msg: str) -> None:
            # `url` holds what the parser had read of the request's URL when it gave up.
            self.transport.write(_refusal(len(self.url), max_url_chars))
            self.transport.close()

    return ProblemHttpTools


class _StartupWatch:
    """Wraps the app's lifespan: a start-up that fails is kept as its exception, and uvicorn is
    told only that it failed, so it prints no traceback (`serve` reports the one line)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.failure: BaseException | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def quiet_send(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed":
                # Starlette sends this from inside its `except` block: the error is current.
                self.failure = sys.exc_info()[1]
                message = {"type": "lifespan.startup.failed", "message": ""}
            await send(message)

        await self.app(scope, receive, quiet_send)


class _StartupLog(logging.Filter):
    """Keeps uvicorn's own start-up failure lines out of the log; `serve` says it once."""

    def __init__(self) -> None:
        super().__init__()
        self.bind_error: OSError | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, OSError):  # could not bind the address
            self.bind_error = record.msg
            return False
        return record.getMessage() != "Application startup failed. Exiting."


def draining_server(
    app: FastAPI,
    settings: Settings,
    host: str,
    port: int,
    kind: type[DrainingServer] = DrainingServer,
) -> DrainingServer:
    """Our uvicorn server for `app`: it drains on SIGTERM, answers unparseable requests with
    problem+json, and keeps a failed start-up as its one line (see `run`)."""
    # Before the server's threads exist (a worker process builds its server once, too).
    limit_malloc_arenas(settings.server.malloc_arenas)
    config = uvicorn.Config(
        _StartupWatch(app),
        host=host,
        port=port,
        log_level=settings.server.log_level,
        # Logging is configured once for the process (app/core/logs.py), uvicorn's loggers too.
        log_config=None,
        # The drain has already let answers end; what is left gets a short while.
        timeout_graceful_shutdown=_CLOSE_S,
        http=problem_http_protocol(settings.server.max_url_chars),
        # uvloop, taking every waiting connection at each turn of the loop (see the module).
        loop="app.event_loop:new_event_loop",
    )
    return kind(config, app, settings.server.drain_s)


@contextlib.contextmanager
def startup_failures(host: str, port: int, app: object = None) -> Iterator[None]:
    """uvicorn logs a failed start (an address it cannot bind, an app whose lifespan failed)
    and exits: here that exit becomes one StartupFailure, with uvicorn's lines kept out of the
    log. `app` is what uvicorn runs: a _StartupWatch knows why the lifespan failed."""
    quiet = _StartupLog()
    uvicorn_log = logging.getLogger("uvicorn.error")
    uvicorn_log.addFilter(quiet)
    try:
        yield
    except SystemExit:
        if quiet.bind_error is not None:
            error = quiet.bind_error
            raise StartupFailure(
                f"cannot listen on {host}:{port}: {error.strerror or error}"
            ) from None
        failure = app.failure if isinstance(app, _StartupWatch) else None
        if isinstance(failure, CitestreamError):
            raise StartupFailure(failure.message) from None
        if failure is not None:
            raise StartupFailure(f"could not start: {reason(failure)}") from None
        raise
    finally:
        uvicorn_log.removeFilter(quiet)


def run(server: DrainingServer, sockets: list[socket.socket] | None = None) -> None:
    """Run `server` (on `sockets` when a parent bound them) until a signal stops it, draining
    first. A start-up that fails raises StartupFailure, whose message is the one line to show."""
    config = server.config
    with startup_failures(config.host, config.port, config.app):
        server.run(sockets)


def serve(app: FastAPI, settings: Settings, host: str, port: int) -> None:
    """Run `app` in this process until a signal stops it, draining first. A start-up that fails
    raises StartupFailure, whose message is the one line to show."""
    run(draining_server(app, settings, host, port))

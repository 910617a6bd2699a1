"""Serving the app with uvicorn, so that a deploy loses nothing: on SIGTERM (or Ctrl+C) the
server first drains — readiness says `draining`, new questions get 503 with Retry-After,
answers in flight may finish for CITESTREAM_SERVER__DRAIN_S — and only then stops, closing
what is left. A second signal stops it at once."""

from __future__ import annotations

import asyncio
import logging
from types import FrameType

import uvicorn
from fastapi import FastAPI

from app.core.settings import Settings
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


def serve(app: FastAPI, settings: Settings, host: str, port: int) -> None:
    """Run `app` until a signal stops it, draining first."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=settings.server.log_level,
        # Logging is configured once for the process (app/core/logs.py), uvicorn's loggers too.
        log_config=None,
        # The drain has already let answers end; what is left gets a short while.
        timeout_graceful_shutdown=_CLOSE_S,
    )
    DrainingServer(config, app, settings.server.drain_s).run()

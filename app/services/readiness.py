"""Where the server stands, for probes and for requests that arrive while it is not ready:
starting (warming up the model and indexes), ready, draining (shutting down), or failed."""

from __future__ import annotations

import asyncio
import enum

from app.core.errors import ServiceUnavailable


class Phase(enum.StrEnum):
    STARTING = "starting"
    READY = "ready"
    DRAINING = "draining"
    FAILED = "failed"


class Readiness:
    """Set by the lifecycle; read by health probes and by every request that needs the model."""

    def __init__(self) -> None:
        self.phase = Phase.STARTING
        self.failure: str | None = None
        self._settled = asyncio.Event()

    def ready(self) -> None:
        self.phase = Phase.READY
        self._settled.set()

    def failed(self, reason: str) -> None:
        self.phase = Phase.FAILED
        self.failure = reason
        self._settled.set()

    def draining(self) -> None:
        self.phase = Phase.DRAINING
        self._settled.set()

    async def wait_until_ready(self, timeout_s: float) -> None:
        """Return once the server takes new questions; 503 (with Retry-After) if it does not."""
        await self.wait_until_started(timeout_s)
        if self.phase == Phase.DRAINING:
            raise ServiceUnavailable(
                "The server is shutting down and takes no new work; try another instance or "
                "again shortly.",
                code="draining",
                retry_after_s=2,
            )

    async def wait_until_started(self, timeout_s: float) -> None:
        """Return once the server serves runs (new ones or, while draining, those in flight);
        503 (with Retry-After) if it does not."""
        if self.phase == Phase.STARTING:
            try:
                await asyncio.wait_for(self._settled.wait(), timeout_s)
            except TimeoutError:
                raise ServiceUnavailable(
                    "The server is still starting (loading the model and indexes); "
                    "try again shortly.",
                    code="starting",
                    retry_after_s=2,
                ) from None
        if self.phase == Phase.FAILED:
            raise ServiceUnavailable(
                f"The server could not start: {self.failure}", code="start_failed", retry_after_s=30
            )

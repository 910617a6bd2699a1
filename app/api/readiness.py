"""Requests that need the model wait for the server to be ready, or get 503 with Retry-After."""

from typing import Annotated

from dependency_injector.wiring import inject
from fastapi import Depends

from app.api.provide import Provide
from app.container import Container
from app.core.settings import Settings
from app.services.readiness import Readiness


@inject
async def wait_until_ready(
    readiness: Annotated[Readiness, Depends(Provide[Container.readiness])],
    settings: Annotated[Settings, Depends(Provide[Container.settings])],
) -> None:
    """A dependency: returns once the model and indexes are ready (503 while draining)."""
    await readiness.wait_until_ready(settings.server.startup_wait_s)


REQUIRE_READY = [Depends(wait_until_ready)]


@inject
async def wait_until_started(
    readiness: Annotated[Readiness, Depends(Provide[Container.readiness])],
    settings: Annotated[Settings, Depends(Provide[Container.settings])],
) -> None:
    """A dependency: returns once the server serves runs, new or (while draining) in flight."""
    await readiness.wait_until_started(settings.server.startup_wait_s)


REQUIRE_STARTED = [Depends(wait_until_started)]

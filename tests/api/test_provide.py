"""Every dependency of every route runs on the event loop, none in FastAPI's thread pool."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from app.main import create_app
from tests.conftest import MakeSettings


def _api_routes(routes: list[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)  # FastAPI includes routers lazily
        if included is not None:
            yield from _api_routes(included.routes)


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for child in dependant.dependencies:
        if child.call is not None:
            yield child.call
        yield from _calls(child)


def _awaited(call: Callable[..., Any]) -> bool:
    # FastAPI's own tests: a coroutine or async generator function, or an object whose
    # __call__ is a coroutine function.
    if inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call):
        return True
    return inspect.iscoroutinefunction(
        getattr(call, "__call__", None)  # noqa: B004 - FastAPI's check, not callable()
    )


def test_no_route_dependency_waits_for_a_thread(make_settings: MakeSettings) -> None:
    # A sync dependency costs each request a hop through a 40-thread pool; under a few hundred
    # concurrent questions the queue for those threads was most of the time to first message.
    app = create_app(make_settings())
    routes = list(_api_routes(app.routes))
    threaded = {
        f"{route.path}: {call!r}"
        for route in routes
        for call in _calls(route.dependant)
        if not _awaited(call)
    }

    assert len(routes) > 20
    assert threaded == set()

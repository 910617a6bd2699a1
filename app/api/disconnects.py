"""Stop work for a plain (non-streaming) request when its client goes away.

sse-starlette watches streaming responses; a handler that returns one JSON body has no such
watcher, so a long answer would run to the end for nobody.
"""

from collections.abc import Awaitable
from typing import TypeVar

import anyio
from starlette.requests import Request

from app.core.errors import CitestreamError

T = TypeVar("T")


class ClientLeft(CitestreamError):
    """The client closed the connection before the answer was ready (nobody reads this)."""

    def __init__(self) -> None:
        super().__init__("The client closed the connection.", "client_closed", 499, "Client left")


async def unless_client_leaves(request: Request, work: Awaitable[T]) -> T:
    """Await `work`, cancelling it if the client disconnects first."""
    outcome: list[T] = []
    failure: list[Exception] = []

    async def watch_for_disconnect(scope: anyio.CancelScope) -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass
        scope.cancel()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(watch_for_disconnect, tasks.cancel_scope)
        try:
            outcome.append(await work)
        except Exception as error:  # kept out of the task group, which would wrap it in a group
            failure.append(error)
        finally:
            tasks.cancel_scope.cancel()
    if failure:
        raise failure[0]
    if not outcome:
        raise ClientLeft()
    return outcome[0]

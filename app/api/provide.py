"""dependency-injector's `Provide` marker, awaited by FastAPI on the event loop.

FastAPI calls a dependency that is not a coroutine function in its thread pool, and the
library's marker is a plain callable: every service a route declared cost a round trip through
a pool of 40 threads, and under a few hundred concurrent questions the queue for those threads
became a large part of the time to first message. The marker does nothing when called (the
`@inject` wrapper swaps in the provided object), so awaiting it is free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dependency_injector import wiring

if TYPE_CHECKING:
    from dependency_injector.wiring import Provide as Provide
else:

    class Provide(wiring.Provide):
        """`wiring.Provide`, callable as a coroutine (see the module's docstring)."""

        async def __call__(self) -> Provide:
            return self

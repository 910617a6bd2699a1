"""A live server in a thread of its own, for clients that block (schemathesis, requests).

`tests/support/server.py` runs uvicorn in the test's event loop, which a blocking client would
stall; here the server gets its own loop in a daemon thread, and the test gets its URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

from app.core.settings import Settings
from tests.support.server import LiveServer, serve

START_TIMEOUT_S = 120.0


@contextlib.contextmanager
def serve_in_thread(settings: Settings) -> Iterator[LiveServer]:
    """Run `serve(settings)` in a thread until the block ends; yields the live server."""
    ready = threading.Event()
    found: list[LiveServer] = []
    failures: list[BaseException] = []
    loop_and_stop: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    async def run() -> None:
        stop = asyncio.Event()
        loop_and_stop.append((asyncio.get_running_loop(), stop))
        async with serve(settings) as server:
            found.append(server)
            ready.set()
            await stop.wait()

    def main() -> None:
        try:
            asyncio.run(run())
        except BaseException as error:  # reported to the test below
            failures.append(error)
        finally:
            ready.set()

    thread = threading.Thread(target=main, name="live-server", daemon=True)
    thread.start()
    ready.wait(START_TIMEOUT_S)
    if not found:
        raise RuntimeError("the server did not start") from (failures[0] if failures else None)
    try:
        yield found[0]
    finally:
        loop, stop = loop_and_stop[0]
        loop.call_soon_threadsafe(stop.set)
        thread.join(60)
        if failures:
            raise failures[0]

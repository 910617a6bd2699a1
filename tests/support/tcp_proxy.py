"""A loopback TCP proxy that reports the connections passing through it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass
class ConnectionLog:
    open: int = 0
    opened_total: int = 0
    all_closed: asyncio.Event = field(default_factory=asyncio.Event)


@contextlib.asynccontextmanager
async def tcp_proxy(upstream_port: int) -> AsyncIterator[tuple[int, ConnectionLog]]:
    """Forward a free local port to `upstream_port`; yields (port, log)."""
    log = ConnectionLog()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def handle(
        client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        log.open += 1
        log.opened_total += 1
        log.all_closed.clear()
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        try:
            await asyncio.gather(
                pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer)
            )
        finally:
            log.open -= 1
            if not log.open:
                log.all_closed.set()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], log
    finally:
        server.close()

"""A loopback TCP proxy that reports the connections passing through it, and can cut them."""

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


class TcpProxy:
    """Forwards `port` to `upstream_port`; a test can take the line down and bring it back."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0  # chosen by the system on the first start, then kept
        self.log = ConnectionLog()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._stalled = False
        # Bytes clients sent, forwarded or not: proof of whether a client tried at all.
        self.received_from_clients = 0

    async def start(self) -> None:
        """Listen (again) on `port`."""
        if self._server is None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
            self.port = self._server.sockets[0].getsockname()[1]

    def close(self) -> None:
        """Stop listening; connections already open are left alone."""
        if self._server is not None:
            self._server.close()
            self._server = None

    async def pause(self) -> None:
        """Refuse new connections and reset the live ones, as when the upstream goes down."""
        self.close()
        self._reset_all()
        await asyncio.sleep(0)  # let the handlers see their connections go

    def stall(self) -> None:
        """Keep accepting and keep connections open, but forward nothing: clients time out."""
        self._stalled = True

    async def resume(self) -> None:
        """Forward again on the same port; connections that were stalled are reset."""
        if self._stalled:
            self._stalled = False
            self._reset_all()
        await self.start()

    def _reset_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, from_client: bool
    ) -> None:
        try:
            while data := await reader.read(65536):
                if from_client:
                    self.received_from_clients += len(data)
                if self._stalled:
                    continue
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _handle(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        log = self.log
        log.open += 1
        log.opened_total += 1
        log.all_closed.clear()
        self._writers.add(client_writer)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.upstream_port
            )
            self._writers.add(upstream_writer)
            try:
                await asyncio.gather(
                    self._pipe(client_reader, upstream_writer, from_client=True),
                    self._pipe(upstream_reader, client_writer, from_client=False),
                )
            finally:
                self._writers.discard(upstream_writer)
        finally:
            self._writers.discard(client_writer)
            log.open -= 1
            if not log.open:
                log.all_closed.set()


@contextlib.asynccontextmanager
async def running_proxy(upstream_port: int) -> AsyncIterator[TcpProxy]:
    """A started proxy to `upstream_port`, closed at the end."""
    proxy = TcpProxy(upstream_port)
    await proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()


@contextlib.asynccontextmanager
async def tcp_proxy(upstream_port: int) -> AsyncIterator[tuple[int, ConnectionLog]]:
    """Forward a free local port to `upstream_port`; yields (port, log)."""
    async with running_proxy(upstream_port) as proxy:
        yield proxy.port, proxy.log

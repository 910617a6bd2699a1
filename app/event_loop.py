"""The event loop `citestream serve` runs on: uvloop, taking waiting connections by the hundred.

uvloop accepts one connection per turn of the loop, as libuv has since 1.45 (libuv/libuv#3696).
A busy turn takes 15-20 ms here, so under load a burst of questions waited in the kernel's
queue and was taken at 50-80 connections a second: with a thousand streams answering, the last
questions of a burst had their first message 14 s after they were sent, against under 5 s when
every connection was taken at once. asyncio's own loop takes all that wait at each turn, but
costs 20-25 % more CPU per answer than uvloop. This loop is uvloop, accepting the way asyncio
does: a listening socket that is readable is accepted from until nothing more waits (at most
`_ACCEPTS_PER_TURN` a turn), and each connection becomes a uvloop transport.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable, Sequence
from typing import Any

logger = logging.getLogger(__name__)

# At most this many per turn: a turn stays short, and workers sharing one socket share a
# burst. With 1,024, the worker that woke first took up to two thirds of a burst of 2,000, and
# the RSS after a wave grew with the share; with 128 each took about half, and a single worker
# still takes a burst of 1,000 in eight turns.
_ACCEPTS_PER_TURN = 128
# Out of file descriptors or memory: accepting stops this long (the connections wait in the
# kernel's queue), as asyncio does.
_RETRY_ACCEPT_S = 1.0
_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}

ProtocolFactory = Callable[[], asyncio.BaseProtocol]


def new_event_loop() -> asyncio.AbstractEventLoop:
    """The loop uvicorn runs `citestream serve` on (`Config(loop="app.event_loop:new_event_loop")`):
    uvloop's with batched accepts where uvloop is installed, asyncio's otherwise."""
    try:
        import uvloop
    except ImportError:  # uvloop does not build on Windows
        return asyncio.new_event_loop()

    class BatchAcceptingLoop(uvloop.Loop):
        async def create_server(  # type: ignore[override]
            self,
            protocol_factory: ProtocolFactory,
            host: str | None = None,
            port: int | None = None,
            *,
            sock: socket.socket | None = None,
            backlog: int = 100,
            ssl: object = None,
            **options: Any,
        ) -> asyncio.AbstractServer:
            if ssl is not None or options:  # TLS, reuse_port...: uvloop's own server
                return await super().create_server(  # type: ignore[call-overload,no-any-return]
                    protocol_factory, host, port, sock=sock, backlog=backlog, ssl=ssl, **options
                )
            if sock is not None:
                return BatchAcceptingServer(self, [sock], protocol_factory, backlog)
            addresses = await self.getaddrinfo(  # in uvloop's resolver, off the loop
                host or None, port or 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )
            sockets = listening_sockets(addresses)
            return BatchAcceptingServer(self, sockets, protocol_factory, backlog)

    return BatchAcceptingLoop()


Address = tuple[int, int, int, str, Any]  # one of getaddrinfo's answers


def listening_sockets(addresses: Sequence[Address]) -> list[socket.socket]:
    """Sockets bound to each of getaddrinfo's `addresses` for a host and port, as asyncio's
    `create_server` binds them. An address that cannot be bound raises its OSError."""
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(addresses):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:  # each address family gets its own socket
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as error:  # worded as asyncio's and uvloop's own servers word it
                raise OSError(
                    error.errno,
                    f"error while attempting to bind on address {address!r}: "
                    f"{(error.strerror or str(error)).lower()}",
                ) from None
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class BatchAcceptingServer(asyncio.AbstractServer):
    """Listens on `sockets`; each connection waiting when one is readable is accepted at once
    and handed to the loop as a transport of `protocol_factory`'s protocol."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sockets: list[socket.socket],
        protocol_factory: ProtocolFactory,
        backlog: int,
    ) -> None:
        self._loop = loop
        self._sockets = sockets
        self._protocol_factory = protocol_factory
        self._connecting: set[asyncio.Task[None]] = set()
        self._serving = False
        for sock in sockets:
            sock.setblocking(False)
            sock.listen(backlog)
        self.start_listening()

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(self._sockets)

    def start_listening(self) -> None:
        if not self._serving:
            self._serving = True
            for sock in self._sockets:
                self._loop.add_reader(sock.fileno(), self._accept, sock)

    def _accept(self, sock: socket.socket) -> None:
        for _ in range(_ACCEPTS_PER_TURN):
            try:
                connection, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return  # none left waiting
            except ConnectionAbortedError:
                continue  # the client left before it was taken
            except OSError as error:
                if error.errno not in _OUT_OF_RESOURCES:
                    raise
                logger.error("Cannot accept connections for now (%s); retrying", error)
                self._loop.remove_reader(sock.fileno())
                self._loop.call_later(_RETRY_ACCEPT_S, self._resume_accepting, sock)
                return
            connection.setblocking(False)
            if connection.family in (socket.AF_INET, socket.AF_INET6):  # as uvloop's own does
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = self._loop.create_task(self._connect(connection))
            self._connecting.add(task)
            task.add_done_callback(self._connecting.discard)

    def _resume_accepting(self, sock: socket.socket) -> None:
        if self._serving:
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    async def _connect(self, connection: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(self._protocol_factory, connection)
        except Exception:
            logger.exception("Could not take an accepted connection")
            connection.close()

    def close(self) -> None:
        if self._serving:
            self._serving = False
            for sock in self._sockets:
                self._loop.remove_reader(sock.fileno())
        for sock in self._sockets:
            sock.close()

    def is_serving(self) -> bool:
        return self._serving

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    async def start_serving(self) -> None:
        self.start_listening()

    async def serve_forever(self) -> None:
        raise NotImplementedError("uvicorn runs its own main loop")

    async def wait_closed(self) -> None:
        if self._connecting:
            await asyncio.wait(self._connecting)

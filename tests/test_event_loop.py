"""The loop `citestream serve` runs on takes a burst of connections at once, however busy it is,
and serves and stops like any asyncio server."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
import uvloop

from app.event_loop import new_event_loop

T = TypeVar("T")


class Echo(asyncio.Protocol):
    made: list[int]  # the loop's turn at each connection
    turn: Callable[[], int]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports have asyncio.Transport's methods without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        self.made.append(self.turn())

    def data_received(self, data: bytes) -> None:
        self.transport.write(b"echo:" + data)


def _run(
    scenario: Callable[[], Coroutine[Any, Any, T]],
    loop_factory: Callable[[], asyncio.AbstractEventLoop],
) -> T:
    loop = loop_factory()
    try:
        return loop.run_until_complete(scenario())
    finally:
        loop.close()


def _echoes() -> Echo:
    """A protocol factory for servers whose turns nobody counts."""
    echo = Echo()
    echo.made, echo.turn = [], lambda: 0
    return echo


Connect = Callable[[], Coroutine[Any, Any, tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def _round_trip_then_close(
    server: asyncio.AbstractServer, connect: Connect, said: bytes
) -> bytes:
    """What the echo server answers to `said` on a new connection; the server is closed after."""
    reader, writer = await connect()
    writer.write(said)
    # A connection the server dropped reads b"" at once; one it never answers fails here.
    reply = await asyncio.wait_for(reader.readexactly(len(b"echo:" + said)), 10)
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    return reply


def _turns_to_take_a_burst(loop_factory: Callable[[], asyncio.AbstractEventLoop]) -> int:
    """How many turns of a busy loop (10 ms each) it takes to accept 200 connections that all
    wait at once."""
    turns = 0
    made: list[int] = []

    async def scenario() -> int:
        nonlocal turns
        loop = asyncio.get_running_loop()

        def protocol() -> Echo:
            echo = Echo()
            echo.made, echo.turn = made, lambda: turns
            return echo

        server = await loop.create_server(protocol, "127.0.0.1", 0, backlog=1024)
        port = server.sockets[0].getsockname()[1]
        clients = [socket.socket() for _ in range(200)]
        for client in clients:  # the whole burst waits in the kernel's queue
            client.connect(("127.0.0.1", port))
        busy = True

        def busy_turn() -> None:
            nonlocal turns
            turns += 1
            time.sleep(0.01)  # a turn of a loaded server
            if busy:
                loop.call_soon(busy_turn)

        loop.call_soon(busy_turn)
        try:
            async with asyncio.timeout(30):
                while len(made) < len(clients):  # noqa: ASYNC110
                    await asyncio.sleep(0.001)
        finally:
            busy = False
            for client in clients:
                client.close()
            server.close()
            await server.wait_closed()
        return max(made) - min(made)

    return _run(scenario, loop_factory)


def test_a_busy_loop_takes_a_burst_of_connections_in_a_few_turns() -> None:
    ours = _turns_to_take_a_burst(new_event_loop)
    uvloops_own = _turns_to_take_a_burst(uvloop.new_event_loop)

    assert ours <= 3
    assert uvloops_own >= 100  # one connection per turn: why this loop exists


def test_it_serves_on_a_host_and_port_and_stops_listening_when_closed() -> None:
    async def scenario() -> tuple[bytes, bool]:
        server = await asyncio.get_running_loop().create_server(_echoes, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reply = await _round_trip_then_close(
            server, lambda: asyncio.open_connection("127.0.0.1", port), b"hello"
        )
        try:
            await asyncio.open_connection("127.0.0.1", port)
        except ConnectionRefusedError:
            refused = True
        else:
            refused = False
        return reply, refused

    reply, refused_after_close = _run(scenario, new_event_loop)

    assert reply == b"echo:hello"
    assert refused_after_close


def test_an_address_in_use_is_refused_with_its_os_error() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()

    async def scenario() -> None:
        await asyncio.get_running_loop().create_server(
            asyncio.Protocol, "127.0.0.1", taken.getsockname()[1]
        )

    try:
        with pytest.raises(OSError, match="in use"):
            _run(scenario, new_event_loop)
    finally:
        taken.close()


def test_served_on_a_socket_a_parent_bound_as_workers_are() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))

    async def scenario() -> bytes:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_echoes, sock=listener, backlog=16)
        address = listener.getsockname()
        return await _round_trip_then_close(server, lambda: asyncio.open_connection(*address), b"x")

    try:
        assert _run(scenario, new_event_loop) == b"echo:x"
    finally:
        listener.close()


def test_a_unix_socket_is_served_too(tmp_path: Path) -> None:
    path = str(tmp_path / "citestream.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)

    async def scenario() -> bytes:
        server = await asyncio.get_running_loop().create_server(_echoes, sock=listener)
        return await _round_trip_then_close(
            server, lambda: asyncio.open_unix_connection(path), b"u"
        )

    try:
        assert _run(scenario, new_event_loop) == b"echo:u"
    finally:
        listener.close()

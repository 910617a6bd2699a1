"""A real OpenAI-compatible chat-completions server on loopback that misbehaves on command.

It speaks HTTP/1.1 itself (asyncio streams, chunked transfer encoding, SSE chunks as OpenAI
sends them), so every fault is what a client really sees on the socket: an error status, a
connection accepted and never answered, a stream that stalls, a stream cut mid-answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field


class Fault(enum.StrEnum):
    NONE = "none"  # a normal streamed answer
    ERROR_STATUS = "error_status"  # 500 with OpenAI's error body, before any token
    NEVER_ANSWERS = "never_answers"  # reads the request, then says nothing at all
    STALLS = "stalls"  # streams `tokens_before_fault` tokens, then goes silent
    CLOSES = "closes"  # streams `tokens_before_fault` tokens, then drops the connection


@dataclass
class FaultyLLMServer:
    """The server's behaviour (change `fault` between requests) and what it has seen."""

    port: int = 0
    fault: Fault = Fault.NONE
    tokens: list[str] = field(default_factory=lambda: ["Close", " the", " connection", " [1]."])
    tokens_before_fault: int = 2
    requests: int = 0
    open_connections: int = 0
    # Set each time a client closes a connection that this server had left hanging.
    client_left: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open_connections += 1
        try:
            while await self._answer_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open_connections -= 1
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests += 1
        request = json.loads(body or b"{}")
        match self.fault:
            case Fault.ERROR_STATUS:
                error = {"error": {"message": "overloaded", "type": "server_error", "code": None}}
                payload = json.dumps(error).encode()
                writer.write(
                    b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
                return True
            case Fault.NEVER_ANSWERS:
                await self._wait_for_client_to_leave(reader)
                return False
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        model = request.get("model", "faulty")
        for position, token in enumerate(self.tokens):
            if position == self.tokens_before_fault and self.fault is Fault.STALLS:
                await self._wait_for_client_to_leave(reader)
                return False
            if position == self.tokens_before_fault and self.fault is Fault.CLOSES:
                # No terminating chunk: the client sees an incomplete body, as when a server dies.
                writer.transport.abort()
                return False
            await _send_chunk(writer, _completion_chunk(model, {"content": token}, None))
            await asyncio.sleep(0.01)
        await _send_chunk(writer, _completion_chunk(model, {}, "stop"))
        await _send_chunk(writer, "[DONE]")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async def _wait_for_client_to_leave(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError):
            while await reader.read(1024):
                pass
        self.client_left.set()


def _completion_chunk(model: str, delta: dict[str, str], finish: str | None) -> str:
    return json.dumps(
        {
            "id": "chatcmpl-faulty",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    )


async def _send_chunk(writer: asyncio.StreamWriter, data: str) -> None:
    event = f"data: {data}\n\n".encode()
    writer.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
    await writer.drain()


@contextlib.asynccontextmanager
async def faulty_llm_server(fault: Fault = Fault.NONE) -> AsyncIterator[FaultyLLMServer]:
    """Serve on a free loopback port until the block ends."""
    state = FaultyLLMServer(fault=fault)
    server = await asyncio.start_server(state._handle, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), timeout=5)


@contextlib.contextmanager
def port_that_never_accepts() -> Iterator[int]:
    """A loopback port whose connections hang in the handshake, like a firewalled host: it
    listens with no backlog and its queue is already full, so the kernel drops new SYNs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = int(listener.getsockname()[1])
        queued = [socket.socket() for _ in range(4)]
        try:
            for sock in queued:
                sock.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    sock.connect(("127.0.0.1", port))
            yield port
        finally:
            for sock in queued:
                sock.close()

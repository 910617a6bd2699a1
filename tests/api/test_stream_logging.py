"""Expected conditions of a stream (a client that stops reading, one that leaves, a cancelled
run) are logged as one line each, never as a traceback."""

from __future__ import annotations

import asyncio
import json
import logging
import socket

import pytest
from httpx_sse import aconnect_sse

from app.core.log_context import AbandonedResponseFilter
from tests.conftest import MakeSettings
from tests.support.server import LiveServer, serve
from tests.support.sse import read_messages

QUESTION = {"query": "How do I cancel a stream?"}


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.exc_info]


async def _stop_reading(server: LiveServer) -> asyncio.StreamWriter:
    """Ask for a long answer over a socket whose owner never reads it."""
    port = int(server.url.rpartition(":")[2])
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    _, writer = await asyncio.open_connection(sock=sock)
    body = json.dumps(QUESTION).encode()
    writer.write(
        b"POST /api/chat/stream HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    return writer


async def test_a_client_that_stops_reading_is_one_log_line(
    make_settings: MakeSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    abandoned = AbandonedResponseFilter()
    settings = make_settings(
        llm={"fake_tokens": 1_000_000}, chat={"send_timeout_s": 0.5, "heartbeat_s": 0.2}
    )
    async with serve(settings) as server:
        # uvicorn's loggers do not propagate to the root logger, where caplog listens; the
        # filter is the one `citestream serve` puts on uvicorn's error logger.
        logging.getLogger("uvicorn").addHandler(caplog.handler)
        logging.getLogger("uvicorn.error").addFilter(abandoned)
        writer = await _stop_reading(server)
        try:
            await server.wait_for_metric("citestream_streams_total", 1, outcome="cancelled")
            await server.wait_for_metric("citestream_active_streams", 0)
        finally:
            writer.transport.abort()
            logging.getLogger("uvicorn").removeHandler(caplog.handler)
            logging.getLogger("uvicorn.error").removeFilter(abandoned)

    assert _tracebacks(caplog) == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    timeouts = [r for r in caplog.records if "stopped reading" in r.getMessage()]
    assert len(timeouts) == 1, [r.getMessage() for r in caplog.records]
    assert timeouts[0].levelno == logging.INFO


async def test_a_client_that_leaves_and_a_cancelled_run_log_no_traceback(
    make_settings: MakeSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = make_settings(llm={"fake_tokens": 100_000, "fake_delay_ms": 1})
    async with serve(settings) as server, server.client() as client:
        logging.getLogger("uvicorn").addHandler(caplog.handler)
        async with aconnect_sse(client, "POST", "/api/chat/stream", json=QUESTION) as source:
            await read_messages(source, 3)
        started = (await client.post("/api/runs", json=QUESTION)).json()
        events: list[str] = []
        async with aconnect_sse(client, "GET", started["events_url"]) as source:
            async for sse in source.aiter_sse():
                events.append(sse.event)
                if len(events) == 3:
                    await client.post(started["cancel_url"])
        await server.wait_for_metric("citestream_active_streams", 0)
        logging.getLogger("uvicorn").removeHandler(caplog.handler)

    assert events[-1] == "error"
    assert _tracebacks(caplog) == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    ended = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Run ended")]
    assert ended == ["Run ended: cancelled", "Run ended: cancelled"]

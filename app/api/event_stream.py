"""The HTTP response that carries a run's events as SSE: heartbeats, a client that left or
stopped reading, and the fewest tasks and objects per open stream."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping

import anyio
from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.event import ensure_bytes
from starlette.types import Message, Receive, Scope, Send

from app.api.sse import run_headers
from app.core.log_context import abandon_response
from app.core.runs import RunRecord
from app.core.settings import ChatSettings

logger = logging.getLogger(__name__)


class Heartbeat(ServerSentEvent):
    """A comment line and nothing else. Without a blank line after it, no parser can take it for
    an event: httpx-sse dispatches an empty `message` for a blank line once an event has carried
    an id (it keeps the last id, issue #35), and `json.loads` of that crashes a client. Browsers
    and the spec skip comments either way; the bytes still keep proxies' idle timers reset."""

    def encode(self) -> bytes:
        return b": ping\r\n"


class RunEventStream(EventSourceResponse):
    """An SSE response of a run's events, with heartbeats every client survives, and a client
    that stopped reading treated as one that left: one log line, no traceback.

    It runs in the request's own task, with one more task that waits for the client to leave,
    and timers for the rest. sse-starlette's response runs four tasks in an anyio task group
    (the stream, heartbeats, the server's exit and the client's leaving): with their cancel
    scopes and events, 19 KB of the 130 KB an open stream held (tracemalloc). Server
    shutdown needs no watcher here: a drain ends every run first, and uvicorn closes what
    is left.

    A send that waits longer than `send_timeout_s` (the client stopped reading and the socket's
    buffers are full) ends the stream. sse-starlette arms a timer for every send; at one send
    per token that was a fifth of a token's cost, for a wait that almost never comes. Here each
    send only notes when it began, and one watcher per stream looks every quarter of the
    timeout: a stuck send is found between 1 and 1.25 times the timeout after it began.
    """

    def __init__(
        self,
        content: AsyncIterator[ServerSentEvent | bytes],
        *,
        heartbeat_s: float,
        send_timeout_s: float,
        headers: Mapping[str, str],
    ) -> None:
        super().__init__(
            content,
            headers=headers,
            ping=heartbeat_s,
            ping_message_factory=Heartbeat,
            send_timeout=None,  # enforced by `_look`, not by a timer per send
        )
        self._send_timeout_s = send_timeout_s
        # When each send in progress began (a heartbeat may be sent beside an event).
        self._sending: dict[object, float] = {}
        # The next look for a stuck send, and the next heartbeat.
        self._watch: asyncio.TimerHandle | None = None
        self._next_beat: asyncio.TimerHandle | None = None
        # Heartbeats being sent: kept here, since the loop holds its tasks only weakly.
        self._heartbeats: set[asyncio.Task[None]] = set()
        self._ended = False  # the last message is sent, or the stream was ended: no heartbeat
        self._stuck = False

    @classmethod
    def for_run(
        cls,
        content: AsyncIterator[ServerSentEvent | bytes],
        record: RunRecord,
        settings: ChatSettings,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> RunEventStream:
        """The stream of `record`'s run in any protocol: the run's ids in its headers (beside
        the protocol's `headers`), the chat settings' heartbeat and stuck-client limit (a client
        that vanished without closing its connection must not hold the session)."""
        return cls(
            content,
            heartbeat_s=settings.heartbeat_s,
            headers={
                **run_headers(record.session_id, record.message_id, record.run_id),
                **(headers or {}),
            },
            send_timeout_s=settings.send_timeout_s,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"].upper() == "HEAD":
            await super().__call__(scope, receive, send)  # no stream to run
            return
        loop = asyncio.get_running_loop()
        with anyio.CancelScope() as stream:
            leaving = loop.create_task(self._end_when_the_client_leaves(receive, stream))
            self._watch = loop.call_later(self._send_timeout_s / 4, self._look, stream, loop)
            self._next_beat = loop.call_later(self.ping_interval, self._beat, send, loop)
            try:
                await self._stream(send)
            finally:
                self._ended = True
                self._watch.cancel()
                self._next_beat.cancel()
                for beat in self._heartbeats:
                    beat.cancel()
                leaving.cancel()
        if self._stuck:
            # The stream's clean-up has run (the listener is gone, as after a disconnect); the
            # response cannot be finished, so the server closes the connection.
            abandon_response()
            logger.info(
                "%s %s: the client stopped reading for %gs; its stream was ended",
                scope.get("method"),
                scope.get("path"),
                self._send_timeout_s,
            )
        if self.background is not None:
            await self.background()

    async def _stream(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        body = self.body_iterator
        try:
            async for data in body:
                await self._send_with_timeout(
                    send,
                    {
                        "type": "http.response.body",
                        "body": ensure_bytes(data, self.sep),
                        "more_body": True,
                    },
                )
        except BaseException:
            # Ended while sending (the generator waits at a `yield`): its clean-up, which lets
            # go of the run, runs now, shielded from the cancellation that ended it.
            with anyio.CancelScope(shield=True):
                await body.aclose()  # type: ignore[attr-defined]
            raise
        self._ended = True
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    @staticmethod
    async def _end_when_the_client_leaves(receive: Receive, stream: anyio.CancelScope) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        stream.cancel()

    def _look(self, stream: anyio.CancelScope, loop: asyncio.AbstractEventLoop) -> None:
        """The watcher: end the stream if a send has waited too long, else look again later.
        A timer callback rather than a task: nothing to schedule between two looks."""
        since = min(self._sending.values(), default=None)
        if since is not None and loop.time() - since >= self._send_timeout_s:
            self._stuck = True
            stream.cancel()
            return
        self._watch = loop.call_later(self._send_timeout_s / 4, self._look, stream, loop)

    def _beat(self, send: Send, loop: asyncio.AbstractEventLoop) -> None:
        """Every `heartbeat_s`, a heartbeat, unless a send is stuck (it says nothing a stuck
        send does not): a task for the few microseconds it takes, rather than one that sleeps
        all along beside every stream."""
        if self._ended:
            return
        if not self._sending:
            beat = loop.create_task(self._send_heartbeat(send))
            self._heartbeats.add(beat)
            beat.add_done_callback(self._heartbeats.discard)
        self._next_beat = loop.call_later(self.ping_interval, self._beat, send, loop)

    async def _send_heartbeat(self, send: Send) -> None:
        if self._ended:
            return
        message = {"type": "http.response.body", "body": Heartbeat().encode(), "more_body": True}
        with contextlib.suppress(OSError):  # the client left: the stream finds out on its own
            await self._send_with_timeout(send, message)

    async def _send_with_timeout(self, send: Send, message: Message) -> None:
        # The one place for sending events and heartbeats alike.
        this = object()
        self._sending[this] = asyncio.get_running_loop().time()
        try:
            await send(message)
        finally:
            del self._sending[this]

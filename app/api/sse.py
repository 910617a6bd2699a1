"""The one place that maps domain events to wire formats: SSE events and plain text.

Every SSE payload is a model of `app/api/stream_schemas.py`, serialized by pydantic.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping

import anyio
from pydantic import TypeAdapter
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.types import Message, Receive, Scope, Send

from app.api.stream_schemas import ErrorData, MessageData, MetaData, Source
from app.core.citations import Citation
from app.core.log_context import abandon_response
from app.core.runs import RunRecord
from app.core.settings import ChatSettings
from app.services.answer_events import (
    AnswerDelta,
    AnswerEvent,
    AnswerFailed,
    AnswerSources,
    AnswerStarted,
)

logger = logging.getLogger(__name__)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_SOURCES = TypeAdapter(list[Source])
Batches = AsyncGenerator[list[tuple[int, AnswerEvent]], None]


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
            send_timeout=None,  # enforced by `_watch_sends`, not by a timer per send
        )
        self._send_timeout_s = send_timeout_s
        # When each send in progress began (a heartbeat may be sent beside an event).
        self._sending: dict[object, float] = {}
        self._watch: asyncio.TimerHandle | None = None

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
        loop = asyncio.get_running_loop()
        with anyio.CancelScope() as stream:
            self._watch = loop.call_later(self._send_timeout_s / 4, self._look, stream, loop)
            try:
                await super().__call__(scope, receive, send)
            finally:
                self._watch.cancel()
        if stream.cancel_called:
            # The stream's clean-up has run (the listener is gone, as after a disconnect); the
            # response cannot be finished, so the server closes the connection.
            abandon_response()
            logger.info(
                "%s %s: the client stopped reading for %gs; its stream was ended",
                scope.get("method"),
                scope.get("path"),
                self._send_timeout_s,
            )

    def _look(self, stream: anyio.CancelScope, loop: asyncio.AbstractEventLoop) -> None:
        """The watcher: end the stream if a send has waited too long, else look again later.
        A timer callback rather than a task: nothing to schedule between two looks."""
        since = min(self._sending.values(), default=None)
        if since is not None and loop.time() - since >= self._send_timeout_s:
            stream.cancel()
            return
        self._watch = loop.call_later(self._send_timeout_s / 4, self._look, stream, loop)

    async def _send_with_timeout(self, send: Send, message: Message) -> None:
        # sse-starlette's one place for sending (events and heartbeats alike).
        this = object()
        self._sending[this] = asyncio.get_running_loop().time()
        try:
            await send(message)
        finally:
            del self._sending[this]


def run_headers(session_id: object, message_id: object, run_id: object) -> dict[str, str]:
    """Stream headers, with the ids of `meta` for clients that never see it."""
    return {
        **SSE_HEADERS,
        "X-Session-Id": str(session_id),
        "X-Message-Id": str(message_id),
        "X-Run-Id": str(run_id),
    }


def sources_of(citations: list[Citation]) -> list[Source]:
    """The wire form of an answer's citations."""
    return [Source.of(citation) for citation in citations]


def event_payload(event: AnswerEvent) -> tuple[str, str]:
    """The SSE event name and its JSON `data` for a domain event."""
    match event:
        case AnswerStarted(session_id=session_id, message_id=message_id, run_id=run_id):
            meta = MetaData(session_id=session_id, message_id=message_id, run_id=run_id)
            return "meta", meta.model_dump_json()
        case AnswerDelta(text=text):
            return "message", MessageData(delta=text).model_dump_json()
        case AnswerSources(citations=citations):
            return "source", _SOURCES.dump_json(sources_of(citations)).decode()
        case AnswerFailed(error=error):
            return "error", ErrorData(code=error.code, message=error.message).model_dump_json()


def plain_ids(seq: int) -> str:
    return str(seq)


def run_scoped_ids(run_id: uuid.UUID) -> Callable[[int], str]:
    """Ids that name the run too, so a reconnecting EventSource finds it on any worker."""

    def event_id(seq: int) -> str:
        return f"{run_id}:{seq}"

    return event_id


async def to_server_sent_events(
    batches: Batches,
    *,
    event_id: Callable[[int], str] = plain_ids,
    retry_ms: int | None = None,
) -> AsyncIterator[ServerSentEvent | bytes]:
    """A run's events as SSE. Events that piled up while the client was slow leave together,
    in one write, each with its own id."""
    first = True
    try:
        async for batch in batches:
            frames = []
            for seq, event in batch:
                name, data = event_payload(event)
                frame = ServerSentEvent(
                    data=data, event=name, id=event_id(seq), retry=retry_ms if first else None
                )
                first = False
                frames.append(frame)
            yield frames[0] if len(frames) == 1 else b"".join(f.encode() for f in frames)
    finally:
        # Closed now, not at garbage collection: a listener that leaves may cancel its run,
        # and that must happen at once.
        await batches.aclose()


async def to_plain_text(batches: Batches) -> AsyncIterator[str]:
    """The answer as plain text, then its cited sources; a failure ends with one error line."""
    try:
        async for batch in batches:
            for _, event in batch:
                match event:
                    case AnswerDelta(text=text):
                        yield text
                    case AnswerSources(citations=citations):
                        yield _sources_footer(citations)
                    case AnswerFailed(error=error):
                        yield f"\n\n[error {error.code}] {error.message}\n"
    finally:
        # Closed now, not at garbage collection: a listener that leaves may cancel its run,
        # and that must happen at once.
        await batches.aclose()


def _sources_footer(citations: list[Citation]) -> str:
    cited = [citation for citation in citations if citation.cited]
    if not cited:
        return "\n"
    lines = [f"[{citation.index}] {citation.document}" for citation in cited]
    return "\n\nSources:\n" + "\n".join(lines) + "\n"

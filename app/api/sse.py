"""The one place that maps domain events to wire formats: SSE events and plain text.

Every SSE payload is a model of `app/api/stream_schemas.py`, serialized by pydantic.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

from pydantic import TypeAdapter
from sse_starlette import ServerSentEvent

from app.api.stream_schemas import ErrorData, MessageData, MetaData, Source
from app.core.citations import Citation
from app.services.answer_events import (
    AnswerDelta,
    AnswerEvent,
    AnswerFailed,
    AnswerSources,
    AnswerStarted,
)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_SOURCES = TypeAdapter(list[Source])


def turn_headers(session_id: object, message_id: object) -> dict[str, str]:
    """Stream headers, with the turn's ids for clients that never see a `meta` event."""
    return {**SSE_HEADERS, "X-Session-Id": str(session_id), "X-Message-Id": str(message_id)}


def sources_of(citations: list[Citation]) -> list[Source]:
    """The wire form of an answer's citations."""
    return [Source.of(citation) for citation in citations]


def event_payload(event: AnswerEvent) -> tuple[str, str]:
    """The SSE event name and its JSON `data` for a domain event."""
    match event:
        case AnswerStarted(session_id=session_id, message_id=message_id):
            return "meta", MetaData(session_id=session_id, message_id=message_id).model_dump_json()
        case AnswerDelta(text=text):
            return "message", MessageData(delta=text).model_dump_json()
        case AnswerSources(citations=citations):
            return "source", _SOURCES.dump_json(sources_of(citations)).decode()
        case AnswerFailed(error=error):
            return "error", ErrorData(code=error.code, message=error.message).model_dump_json()


async def to_server_sent_events(
    events: AsyncGenerator[AnswerEvent, None],
) -> AsyncIterator[ServerSentEvent]:
    """Typed events as SSE, each with an increasing `id`."""
    # The generator is closed here (not at garbage collection) when the client leaves, so the
    # service's clean-up runs now.
    try:
        event_id = 0
        async for event in events:
            event_id += 1
            name, data = event_payload(event)
            yield ServerSentEvent(data=data, event=name, id=str(event_id))
    finally:
        await events.aclose()


async def to_plain_text(events: AsyncGenerator[AnswerEvent, None]) -> AsyncIterator[str]:
    """The answer as plain text, then its cited sources; a failure ends with one error line."""
    try:
        async for event in events:
            match event:
                case AnswerDelta(text=text):
                    yield text
                case AnswerSources(citations=citations):
                    yield _sources_footer(citations)
                case AnswerFailed(error=error):
                    yield f"\n\n[error {error.code}] {error.message}\n"
    finally:
        await events.aclose()


def _sources_footer(citations: list[Citation]) -> str:
    cited = [citation for citation in citations if citation.cited]
    if not cited:
        return "\n"
    lines = [f"[{citation.index}] {citation.document}" for citation in cited]
    return "\n\nSources:\n" + "\n".join(lines) + "\n"

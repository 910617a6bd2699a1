"""The one place that maps domain events to wire formats: SSE events and plain text.

Every SSE payload is a model of `app/api/stream_schemas.py`, serialized by pydantic.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable

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

logger = logging.getLogger(__name__)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_SOURCES = TypeAdapter(list[Source])
Batches = AsyncGenerator[list[tuple[int, AnswerEvent]], None]


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

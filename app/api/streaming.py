"""The one place that maps domain events to wire formats: SSE, plain text, OpenAPI docs."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

from sse_starlette import ServerSentEvent

from app.api.schemas import ErrorData, MessageData, MetaData
from app.services.chat_events import (
    AnswerDelta,
    AnswerFailed,
    AnswerSources,
    AnswerStarted,
    ChatEvent,
    Source,
)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def turn_headers(session_id: object, message_id: object) -> dict[str, str]:
    """Stream headers, with the turn's ids for clients that never see a `meta` event."""
    return {**SSE_HEADERS, "X-Session-Id": str(session_id), "X-Message-Id": str(message_id)}


def _sse_payload(event: ChatEvent) -> tuple[str, Any]:
    match event:
        case AnswerStarted(session_id=session_id, message_id=message_id):
            return "meta", MetaData(session_id=session_id, message_id=message_id).model_dump(
                mode="json"
            )
        case AnswerDelta(text=text):
            return "message", {"delta": text}
        case AnswerSources(sources=sources):
            return "source", [source.model_dump(mode="json") for source in sources]
        case AnswerFailed(error=error):
            return "error", {"code": error.code, "message": error.message}


async def to_server_sent_events(
    events: AsyncGenerator[ChatEvent, None],
) -> AsyncIterator[ServerSentEvent]:
    """Typed events as SSE, each with an increasing `id`."""
    # aclosing: when the client leaves, the service's clean-up must run now, not at GC time.
    async with aclosing(events) as stream:
        event_id = 0
        async for event in stream:
            event_id += 1
            name, payload = _sse_payload(event)
            yield ServerSentEvent(data=json.dumps(payload), event=name, id=str(event_id))


async def to_plain_text(events: AsyncGenerator[ChatEvent, None]) -> AsyncIterator[str]:
    """The answer as plain text, then its cited sources; a failure ends with one error line."""
    async with aclosing(events) as stream:
        async for event in stream:
            match event:
                case AnswerDelta(text=text):
                    yield text
                case AnswerSources(sources=sources):
                    yield _sources_footer(sources)
                case AnswerFailed(error=error):
                    yield f"\n\n[error {error.code}] {error.message}\n"


def _sources_footer(sources: list[Source]) -> str:
    cited = [source for source in sources if source.cited]
    if not cited:
        return "\n"
    lines = [f"[{source.index}] {source.document}" for source in cited]
    return "\n\nSources:\n" + "\n".join(lines) + "\n"


_EXAMPLE = (
    'id: 1\nevent: meta\ndata: {"session_id": "3f0c…", "message_id": "9a41…"}\n\n'
    'id: 2\nevent: message\ndata: {"delta": "Close"}\n\n'
    'id: 3\nevent: message\ndata: {"delta": " the connection [1]."}\n\n'
    'id: 4\nevent: source\ndata: [{"index": 1, "node_id": "…", "document": "cancellation.md", '
    '"text": "…", "score": 3.1, "metadata": {"title": "Cancellation"}, "cited": true}]\n\n'
)

STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "A `text/event-stream` of typed events, each with an increasing `id`: `meta` first "
            "(`MetaData`), then `message` events (`MessageData`) as the model writes, then "
            "either `source` (a JSON array of `Source`; always sent, `[]` when nothing was "
            "retrieved) or `error` (`ErrorData`). Heartbeat comments every 15 s by default "
            "(`CITESTREAM_CHAT__HEARTBEAT_S`). `X-Session-Id` and `X-Message-Id` headers carry "
            "the ids of `meta`. With "
            "`Accept: text/plain` (POST only) the answer streams as plain text followed by its "
            "cited sources."
        ),
        "content": {
            "text/event-stream": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/MetaData"},
                        {"$ref": "#/components/schemas/MessageData"},
                        {"type": "array", "items": {"$ref": "#/components/schemas/Source"}},
                        {"$ref": "#/components/schemas/ErrorData"},
                    ]
                },
                "example": _EXAMPLE,
            },
            "text/plain": {"schema": {"type": "string"}},
        },
    },
    404: {"description": "The session does not exist (problem+json)."},
    409: {"description": "The session is still answering another question (problem+json)."},
    422: {
        "description": "Invalid input (problem+json): blank or too long query, bad JSON, bad id."
    },
}

ANSWER_ERRORS: dict[int | str, dict[str, Any]] = {
    **{code: STREAM_RESPONSES[code] for code in (404, 409, 422)},
    502: {"description": "The language model failed (problem+json, code llm_error)."},
    503: {"description": "Retrieval or storage failed (problem+json)."},
    504: {"description": "The answer took longer than the limit (problem+json, code timeout)."},
}

EVENT_SCHEMAS = (MetaData, MessageData, ErrorData, Source)

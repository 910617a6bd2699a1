"""The one place that maps a run's events to the Vercel AI SDK's UI message stream (protocol v1).

Each part is one SSE frame `data: {json}`, and the stream ends with `data: [DONE]`:

    start (messageId = our message id, messageMetadata {session_id, run_id, message_id})
    text-start, text-delta..., text-end
    source-document per retrieved source, data-citations, finish      (a success)
    abort                                                             (cancelled)
    error                                                             (any other failure)

The SDK's `source-document` holds only an id, a media type, a title and a file name; what a
citation says besides (its number, page, heading, snippet, score, whether the answer cites it)
rides in one `data-citations` part, each entry naming its `source_id`. A cancelled run ends
with `abort`, as the SDK's own `streamText` does when stopped: `useChat` then keeps the partial
answer and returns to `ready`, where an `error` part would put the chat in its error state.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import PurePosixPath
from typing import Any

from pydantic import BaseModel, Field

from app.api.sse import Batches
from app.core.citations import Citation
from app.services.answer_events import (
    AnswerDelta,
    AnswerEvent,
    AnswerFailed,
    AnswerSources,
    AnswerStarted,
)

UI_MESSAGE_STREAM_HEADERS = {"x-vercel-ai-ui-message-stream": "v1"}
DONE = b"data: [DONE]\n\n"
Part = dict[str, Any]

# By file name; what is not known is sent as plain text.
_MEDIA_TYPES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".pdf": "application/pdf",
    ".txt": "text/plain",
}


class CitationData(BaseModel):
    """One entry of `data-citations`: what a `source-document` part cannot carry."""

    source_id: str = Field(description="The `sourceId` of its `source-document` part.")
    index: int = Field(description="The n of `[n]` in the answer.")
    document: str
    document_id: str | None
    node_id: str
    title: str | None
    page: int | None
    heading: str | None
    snippet: str
    score: float | None
    cited: bool


def media_type_of(document: str) -> str:
    """The media type of a document, from its file name."""
    return _MEDIA_TYPES.get(PurePosixPath(document).suffix.lower(), "text/plain")


class UIMessageParts:
    """Translates one run's events, in order, into UI message stream parts."""

    def __init__(self) -> None:
        self._message_id: uuid.UUID | None = None
        self._open_text: str | None = None

    def of(self, event: AnswerEvent) -> list[Part]:
        match event:
            case AnswerStarted(session_id=session_id, message_id=message_id, run_id=run_id):
                self._message_id = message_id
                self._open_text = f"{message_id}:text"
                metadata = {
                    "session_id": str(session_id),
                    "message_id": str(message_id),
                    "run_id": None if run_id is None else str(run_id),
                }
                return [
                    {"type": "start", "messageId": str(message_id), "messageMetadata": metadata},
                    {"type": "text-start", "id": self._open_text},
                ]
            case AnswerDelta(text=text):
                if self._open_text is None:
                    return []
                return [{"type": "text-delta", "id": self._open_text, "delta": text}]
            case AnswerSources(citations=citations):
                return [
                    *self._end_text(),
                    *self._sources(citations),
                    {"type": "finish", "finishReason": "stop"},
                ]
            case AnswerFailed(error=error):
                if error.code == "cancelled":
                    return [*self._end_text(), {"type": "abort", "reason": error.message}]
                return [*self._end_text(), {"type": "error", "errorText": error.message}]

    def _end_text(self) -> list[Part]:
        if self._open_text is None:
            return []
        part = {"type": "text-end", "id": self._open_text}
        self._open_text = None
        return [part]

    def _sources(self, citations: list[Citation]) -> list[Part]:
        parts: list[Part] = []
        entries: list[Part] = []
        for citation in citations:
            source_id = f"{self._message_id}:{citation.index}"
            parts.append(
                {
                    "type": "source-document",
                    "sourceId": source_id,
                    "mediaType": media_type_of(citation.document),
                    "title": citation.title or citation.document,
                    "filename": citation.document,
                }
            )
            entry = CitationData(
                source_id=source_id,
                index=citation.index,
                document=citation.document,
                document_id=citation.document_id,
                node_id=citation.node_id,
                title=citation.title,
                page=citation.page,
                heading=citation.heading,
                snippet=citation.text,
                score=citation.score,
                cited=citation.cited,
            )
            entries.append(entry.model_dump(mode="json"))
        parts.append(
            {"type": "data-citations", "id": f"{self._message_id}:citations", "data": entries}
        )
        return parts


def _frame(part: Part) -> bytes:
    return (
        b"data: " + json.dumps(part, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"
    )


async def to_ui_message_stream(batches: Batches) -> AsyncIterator[bytes]:
    """A run's events as UI message stream frames, ending with `[DONE]`. Events that piled up
    while the client was slow leave together, in one write."""
    parts = UIMessageParts()
    try:
        async for batch in batches:
            frames = b"".join(_frame(part) for _, event in batch for part in parts.of(event))
            if frames:
                yield frames
        yield DONE
    finally:
        # Closed now, not at garbage collection (as app/api/sse.py's streams do).
        await batches.aclose()

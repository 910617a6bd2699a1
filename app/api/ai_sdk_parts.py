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

from collections.abc import AsyncIterator
from pathlib import PurePosixPath

from pydantic import BaseModel

from app.api.ai_sdk_stream_schemas import (
    AbortPart,
    CitationData,
    CitationsPart,
    ErrorPart,
    FinishPart,
    MessageMetadata,
    SourceDocumentPart,
    StartPart,
    TextDeltaPart,
    TextEndPart,
    TextStartPart,
)
from app.api.sse import Batches
from app.core.citations import Citation
from app.core.media_types import MEDIA_TYPES, PLAIN_TEXT
from app.services.answer_events import (
    AnswerDelta,
    AnswerEvent,
    AnswerFailed,
    AnswerSources,
    AnswerStarted,
)

# The protocol version the SDK looks for (and a cross-origin page may read: app/main.py).
AI_SDK_STREAM_HEADER = "x-vercel-ai-ui-message-stream"
UI_MESSAGE_STREAM_HEADERS = {AI_SDK_STREAM_HEADER: "v1"}
DONE = b"data: [DONE]\n\n"


def media_type_of(document: str) -> str:
    """The media type of a document, from its file name."""
    # What is not known is sent as plain text.
    return MEDIA_TYPES.get(PurePosixPath(document).suffix.lower(), PLAIN_TEXT)


class UIMessageParts:
    """Translates one run's events, in order, into UI message stream parts."""

    def __init__(self) -> None:
        self._message_id = ""
        self._open_text: str | None = None

    def of(self, event: AnswerEvent) -> list[BaseModel]:
        match event:
            case AnswerStarted(session_id=session_id, message_id=message_id, run_id=run_id):
                self._message_id = str(message_id)
                self._open_text = f"{message_id}:text"
                metadata = MessageMetadata(
                    session_id=str(session_id),
                    message_id=str(message_id),
                    run_id=None if run_id is None else str(run_id),
                )
                return [
                    StartPart(message_id=str(message_id), message_metadata=metadata),
                    TextStartPart(id=self._open_text),
                ]
            case AnswerDelta(text=text):
                if self._open_text is None:
                    return []
                return [TextDeltaPart(id=self._open_text, delta=text)]
            case AnswerSources(citations=citations):
                return [*self._end_text(), *self._sources(citations), FinishPart()]
            case AnswerFailed(error=error):
                if error.code == "cancelled":
                    return [*self._end_text(), AbortPart(reason=error.message)]
                return [*self._end_text(), ErrorPart(error_text=error.message)]

    def _end_text(self) -> list[BaseModel]:
        if self._open_text is None:
            return []
        part = TextEndPart(id=self._open_text)
        self._open_text = None
        return [part]

    def _sources(self, citations: list[Citation]) -> list[BaseModel]:
        documents: list[BaseModel] = []
        entries = []
        for citation in citations:
            source_id = f"{self._message_id}:{citation.index}"
            documents.append(
                SourceDocumentPart(
                    source_id=source_id,
                    media_type=media_type_of(citation.document),
                    title=citation.title or citation.document,
                    filename=citation.document,
                )
            )
            entries.append(
                CitationData(
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
            )
        return [*documents, CitationsPart(id=f"{self._message_id}:citations", data=entries)]


def _frame(part: BaseModel) -> bytes:
    return b"data: " + part.model_dump_json(by_alias=True).encode() + b"\n\n"


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

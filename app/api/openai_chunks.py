"""The one place that maps an answer's events to OpenAI's chat completion objects: a whole
`chat.completion`, or the `chat.completion.chunk` frames of a stream, with the answer's
citations as `url_citation` annotations on its `[n]` markers."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from sse_starlette import ServerSentEvent

from app.api.openai_errors import error_detail
from app.api.openai_schemas import (
    Annotation,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Delta,
    URLCitation,
    Usage,
)
from app.api.sse import Batches
from app.core.citations import Citation
from app.core.runs import RunRecord
from app.services.answer_events import AnswerDelta, AnswerFailed, AnswerSources, AnswerStarted
from app.services.chat import Answer
from app.services.token_usage import token_usage

_MARKER = re.compile(r"\[(\d+)\]")
_DONE = ServerSentEvent(data="[DONE]")


@dataclass(frozen=True)
class Completion:
    """What every object of one answer repeats, and what its annotations and usage need."""

    message_id: uuid.UUID
    model: str
    created: int
    # Absolute, ending in `/`: `{base_url}api/documents/`.
    documents_url: str
    # The text of the messages sent, counted for `usage.prompt_tokens`.
    sent: Sequence[str]
    include_usage: bool = False

    @classmethod
    def of(cls, request: ChatCompletionRequest, run: RunRecord, base_url: str) -> Completion:
        """The completion that answers `request` with `run`."""
        options = request.stream_options
        return cls(
            message_id=run.message_id,
            model=request.model,
            created=int(run.created_at.timestamp()),
            documents_url=f"{base_url}api/documents/",
            sent=[message.text for message in request.sent_messages()],
            include_usage=options is not None and options.include_usage,
        )

    @property
    def id(self) -> str:
        return f"chatcmpl-{self.message_id.hex}"

    def usage(self, answer: str) -> Usage:
        counted = token_usage(self.sent, answer)
        return Usage(
            prompt_tokens=counted.prompt_tokens,
            completion_tokens=counted.completion_tokens,
            total_tokens=counted.total_tokens,
        )

    def passage_url(self, citation: Citation) -> str:
        """The documents API URL that shows the cited chunk with a neighbour on each side."""
        return f"{self.documents_url}{citation.document_id}?chunk_id={citation.node_id}&context=1"


def annotations_of(
    text: str, citations: list[Citation], completion: Completion
) -> list[Annotation]:
    """One annotation per `[n]` marker in `text` that names a source; offsets are Python
    string indices (Unicode code points) into `text`, the message's `content`."""
    by_index = {c.index: c for c in citations if c.document_id is not None}
    annotations = []
    for marker in _MARKER.finditer(text):
        citation = by_index.get(int(marker.group(1)))
        if citation is None:
            continue  # a bracketed number the model wrote that is no source
        cited = URLCitation(
            start_index=marker.start(),
            end_index=marker.end(),
            url=completion.passage_url(citation),
            title=citation.title or citation.document,
        )
        annotations.append(Annotation(url_citation=cited))
    return annotations


def whole_completion(answer: Answer, completion: Completion) -> ChatCompletion:
    """A finished answer as one `chat.completion`."""
    message = AssistantMessage(
        content=answer.answer,
        annotations=annotations_of(answer.answer, answer.citations, completion),
    )
    return ChatCompletion(
        id=completion.id,
        created=completion.created,
        model=completion.model,
        choices=[Choice(message=message)],
        usage=completion.usage(answer.answer),
    )


def _frame(completion: Completion, *choices: ChunkChoice, usage: Usage | None = None) -> bytes:
    chunk = ChatCompletionChunk(
        id=completion.id,
        created=completion.created,
        model=completion.model,
        choices=list(choices),
        usage=usage,
    )
    return ServerSentEvent(data=chunk.model_dump_json(exclude_none=True)).encode()


async def completion_chunks(batches: Batches, completion: Completion) -> AsyncIterator[bytes]:
    """A run's events as `chat.completion.chunk` frames: the role first, then the text as the
    model writes it, then a chunk with the annotations and `finish_reason: "stop"` (and, when
    asked, the usage), then `[DONE]`. A failure ends with an `error` frame, then `[DONE]`."""
    answer: list[str] = []
    try:
        async for batch in batches:
            # Pieces that piled up while the client was slow leave as one chunk, in one write.
            frames: list[bytes] = []
            pending: list[str] = []
            for _, event in batch:
                match event:
                    case AnswerStarted():
                        start = Delta(role="assistant", content="")
                        frames.append(_frame(completion, ChunkChoice(delta=start)))
                    case AnswerDelta(text=text):
                        pending.append(text)
                    case AnswerSources(citations=citations):
                        frames.extend(_last_frames(completion, answer, pending, citations))
                        pending = []
                    case AnswerFailed(error=error):
                        frames.extend(_text_frame(completion, answer, pending))
                        pending = []
                        failed = error_detail(error).model_dump_json()
                        frames.append(ServerSentEvent(data=failed).encode())
            frames.extend(_text_frame(completion, answer, pending))
            if frames:
                yield b"".join(frames)
        yield _DONE.encode()
    finally:
        # Closed now, not at garbage collection: the listener leaving cancels the run at once.
        await batches.aclose()


def _text_frame(completion: Completion, answer: list[str], pending: list[str]) -> list[bytes]:
    if not pending:
        return []
    text = "".join(pending)
    answer.append(text)
    return [_frame(completion, ChunkChoice(delta=Delta(content=text)))]


def _last_frames(
    completion: Completion, answer: list[str], pending: list[str], citations: list[Citation]
) -> list[bytes]:
    """The last content chunk (with whatever text was still pending) carries the annotations
    and `finish_reason`; then the usage chunk, when asked for."""
    rest = "".join(pending)
    text = "".join(answer) + rest
    answer.append(rest)
    delta = Delta(content=rest, annotations=annotations_of(text, citations, completion))
    frames = [_frame(completion, ChunkChoice(delta=delta, finish_reason="stop"))]
    if completion.include_usage:
        frames.append(_frame(completion, usage=completion.usage(text)))
    return frames

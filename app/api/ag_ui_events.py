"""A run's events as an AG-UI event stream: the one place that maps AnswerEvents to `ag_ui.core`
events, written by the protocol package's own `EventEncoder`.

A successful run: `RUN_STARTED`, `CUSTOM citestream.run` (our ids), `TEXT_MESSAGE_START`,
`TEXT_MESSAGE_CONTENT`..., `TEXT_MESSAGE_END`, `CUSTOM citestream.sources`, `RUN_FINISHED`.
A failed one ends the message it started, then `RUN_ERROR {message, code}`; a cancelled one
(`POST /api/runs/{run_id}/cancel`) ends with `RUN_FINISHED` whose outcome is `cancelled`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from ag_ui.core import (
    PROTOCOL_VERSION,
    BaseEvent,
    CustomEvent,
    RunAgentInput,
    RunErrorEvent,
    RunFinishedCancelledOutcome,
    RunFinishedEvent,
    RunStartedEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
)
from ag_ui.encoder import EventEncoder
from pydantic import TypeAdapter

from app.api.event_stream import RunEventStream
from app.api.sse import Batches, sources_of
from app.api.stream_schemas import MetaData, Source
from app.core.runs import RunRecord
from app.core.settings import ChatSettings
from app.services.answer_events import (
    AnswerDelta,
    AnswerEvent,
    AnswerFailed,
    AnswerSources,
    AnswerStarted,
)

RUN_EVENT = "citestream.run"
SOURCES_EVENT = "citestream.sources"
_SOURCES = TypeAdapter(list[Source])
# AG-UI has no stop request of its own; a cancel through our API is a run stopped, not failed.
_CANCELLED = "cancelled"


class _RunTranslation:
    """The state one stream needs: its ids, and whether the answer's message is open. The
    message opens with its first text, so a run that fails before writing shows no empty one."""

    def __init__(self, run: RunAgentInput, message_id: uuid.UUID) -> None:
        self._thread_id = run.thread_id
        self._run_id = run.run_id
        self._message_id = str(message_id)
        self._open = False

    def events_of(self, event: AnswerEvent) -> list[BaseEvent]:
        match event:
            case AnswerStarted(session_id=session_id, message_id=message_id, run_id=run_id):
                ours = MetaData(session_id=session_id, message_id=message_id, run_id=run_id)
                return [
                    RunStartedEvent(
                        thread_id=self._thread_id,
                        run_id=self._run_id,
                        protocol_version=PROTOCOL_VERSION,
                    ),
                    CustomEvent(name=RUN_EVENT, value=ours.model_dump(mode="json")),
                ]
            case AnswerDelta(text=text):
                if not text:
                    return []
                content = TextMessageContentEvent(message_id=self._message_id, delta=text)
                return [*self._start(), content]
            case AnswerSources(citations=citations):
                sources: list[dict[str, Any]] = _SOURCES.dump_python(
                    sources_of(citations), mode="json"
                )
                return [
                    *self._end(),
                    CustomEvent(name=SOURCES_EVENT, value=sources),
                    RunFinishedEvent(thread_id=self._thread_id, run_id=self._run_id),
                ]
            case AnswerFailed(error=error) if error.code == _CANCELLED:
                cancelled = RunFinishedEvent(
                    thread_id=self._thread_id,
                    run_id=self._run_id,
                    outcome=RunFinishedCancelledOutcome(),
                )
                return [*self._end(), cancelled]
            case AnswerFailed(error=error):
                return [*self._end(), RunErrorEvent(message=error.message, code=error.code)]

    def _start(self) -> list[BaseEvent]:
        if self._open:
            return []
        self._open = True
        return [TextMessageStartEvent(message_id=self._message_id, role="assistant")]

    def _end(self) -> list[BaseEvent]:
        if not self._open:
            return []
        self._open = False
        return [TextMessageEndEvent(message_id=self._message_id)]


async def to_ag_ui_events(
    batches: Batches, run: RunAgentInput, message_id: uuid.UUID
) -> AsyncIterator[bytes]:
    """A run's events as AG-UI SSE frames; those that piled up leave together, in one write."""
    encoder = EventEncoder()
    translation = _RunTranslation(run, message_id)
    try:
        async for batch in batches:
            frames = [
                encoder.encode(ag_ui_event)
                for _, event in batch
                for ag_ui_event in translation.events_of(event)
            ]
            if frames:
                yield "".join(frames).encode()
    finally:
        # Closed now, not at garbage collection: leaving cancels the run, and that must happen
        # at once.
        await batches.aclose()


def ag_ui_stream(
    batches: Batches, run: RunAgentInput, record: RunRecord, settings: ChatSettings
) -> RunEventStream:
    """The streaming response of an AG-UI run, with our heartbeats and stuck-client limit."""
    return RunEventStream.for_run(
        to_ag_ui_events(batches, run, record.message_id),
        record,
        settings,
        headers={"Content-Type": EventEncoder().get_content_type()},
    )


AG_UI_STREAM_RESPONSE: dict[str, Any] = {
    "description": (
        "An AG-UI event stream (`text/event-stream`, one `data: {json}` frame per event, "
        "camelCase): `RUN_STARTED`, `CUSTOM` `citestream.run` (`value`: session_id, message_id "
        "and run_id), `TEXT_MESSAGE_START`, `TEXT_MESSAGE_CONTENT`..., `TEXT_MESSAGE_END`, "
        "`CUSTOM` `citestream.sources` (`value`: the sources, as in the `source` event of "
        "`/api/chat/stream`), then `RUN_FINISHED`; or `RUN_ERROR {message, code}` after what "
        "was written. A run cancelled with `POST /api/runs/{run_id}/cancel` ends with "
        "`RUN_FINISHED` whose `outcome.type` is `cancelled`. Heartbeat comments every 15 s by "
        "default. `X-Session-Id`, `X-Message-Id` and `X-Run-Id` headers carry our ids."
    ),
    "content": {
        "text/event-stream": {
            "itemSchema": {
                "type": "object",
                "required": ["data"],
                "properties": {
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "description": "One AG-UI event; its `type` says which.",
                    }
                },
            },
        }
    },
}

"""Chat endpoints: SSE for fetch and EventSource, plain text, and whole JSON answers. Each
starts a run and follows it."""

import uuid
from typing import Annotated

from dependency_injector.wiring import inject
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from sse_starlette import EventSourceResponse

from app.api.chat_schemas import ChatAnswer, ChatRequest
from app.api.disconnects import unless_client_leaves
from app.api.event_stream import RunEventStream
from app.api.fields import NOT_BLANK_PATTERN, StorableStr
from app.api.identity import AccessToken, PrincipalDep
from app.api.openapi import ANSWER_ERRORS, QUESTION_ERRORS, STREAM_RESPONSES, stream_response
from app.api.provide import Provide
from app.api.readiness import REQUIRE_READY
from app.api.sse import (
    Batches,
    run_headers,
    run_scoped_ids,
    sources_of,
    to_plain_text,
    to_server_sent_events,
)
from app.container import Container
from app.core.errors import NotFound
from app.core.names import COLLECTION_NAME_PATTERN
from app.core.principals import Principal
from app.core.runs import CancelOrigin, RunRecord
from app.core.settings import Settings
from app.services.chat import collect_answer
from app.services.runs import RunService

router = APIRouter(prefix="/api/chat", tags=["chat"], dependencies=REQUIRE_READY)

RunServiceDep = Annotated[RunService, Depends(Provide[Container.run_service])]
SettingsDep = Annotated[Settings, Depends(Provide[Container.settings])]
# Asks a browser whose connection dropped to come back within about a second.
RECONNECT_MS = 1000


def _event_stream(
    batches: Batches, record: RunRecord, settings: Settings, *, for_event_source: bool = False
) -> EventSourceResponse:
    return RunEventStream.for_run(
        to_server_sent_events(
            batches,
            event_id=run_scoped_ids(record.run_id) if for_event_source else str,
            retry_ms=RECONNECT_MS if for_event_source else None,
        ),
        record,
        settings.chat,
    )


def _wants_plain_text(accept: str) -> bool:
    return "text/plain" in accept and "text/event-stream" not in accept


@router.post(
    "/stream", responses=STREAM_RESPONSES, response_class=EventSourceResponse, response_model=None
)
@inject
async def stream_chat(
    request: ChatRequest,
    runs: RunServiceDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    accept: Annotated[str, Header()] = "text/event-stream",
) -> EventSourceResponse | StreamingResponse:
    """Stream an answer as Server-Sent Events (or as plain text with `Accept: text/plain`).

    Closing the connection stops the answer at once (its partial text is saved).
    """
    record = await runs.start(
        request.query, request.session_id, request.collection, principal=principal
    )
    batches = await runs.follow(
        record.run_id, principal=principal, cancel_on_close=CancelOrigin.DISCONNECT
    )
    if _wants_plain_text(accept):
        return StreamingResponse(
            to_plain_text(batches),
            media_type="text/plain; charset=utf-8",
            headers=run_headers(record.session_id, record.message_id, record.run_id),
        )
    return _event_stream(batches, record, settings)


@router.get(
    "/stream",
    responses={200: stream_response(), **QUESTION_ERRORS},
    response_class=EventSourceResponse,
    response_model=None,
)
@inject
async def stream_chat_for_event_source(
    runs: RunServiceDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    query: Annotated[
        StorableStr,
        Query(
            description="The question: not blank, no NUL; at most "
            "CITESTREAM_CHAT__MAX_QUERY_CHARS characters (4,000 by default) once trimmed.",
            json_schema_extra={"pattern": NOT_BLANK_PATTERN},
        ),
    ],
    session_id: Annotated[
        uuid.UUID | None, Query(description="Continue this conversation.")
    ] = None,
    collection: Annotated[
        str | None,
        Query(pattern=COLLECTION_NAME_PATTERN, description="The document collection to search."),
    ] = None,
    last_event_id: Annotated[str | None, Header(include_in_schema=False)] = None,
    access_token: AccessToken = None,
) -> EventSourceResponse | Response:
    """Stream an answer as Server-Sent Events, for the browser's `EventSource`.

    Event ids are `<run_id>:<number>`. An `EventSource` whose connection dropped reconnects by
    itself with `Last-Event-ID` and gets the rest of the same answer (no new question); for a
    run that no longer exists the answer is 204, which tells the browser to stop. Closing the
    `EventSource` leaves the run to the orphan grace (10 s); `POST /api/runs/{run_id}/cancel`
    stops it at once.
    """
    if last_event_id is not None:
        return await _resume(runs, last_event_id, settings, principal, session_id)
    record = await runs.start(query, session_id, collection, principal=principal)
    batches = await runs.follow(record.run_id, principal=principal)
    return _event_stream(batches, record, settings, for_event_source=True)


async def _resume(
    runs: RunService,
    last_event_id: str,
    settings: Settings,
    principal: Principal,
    session_id: uuid.UUID | None,
) -> Response:
    run, _, number = last_event_id.partition(":")
    try:
        run_id, after = uuid.UUID(run), int(number)
        record = await runs.status(run_id, principal)
        if session_id is not None and record.session_id != session_id:
            # Only a run of the conversation the URL names (which a stream token may be for).
            raise NotFound("No such run in this conversation.")
        if record.final_seq is not None and after >= record.final_seq:
            # A browser that kept its EventSource open after the final event: nothing more.
            return Response(status_code=204)
        batches = await runs.follow(run_id, after, principal=principal)
    except (ValueError, NotFound):
        return Response(status_code=204)  # nothing to resume: the browser stops reconnecting
    return _event_stream(batches, record, settings, for_event_source=True)


@router.post("", response_model=ChatAnswer, responses=ANSWER_ERRORS)
@inject
async def chat(
    request: ChatRequest, http_request: Request, runs: RunServiceDep, principal: PrincipalDep
) -> ChatAnswer:
    """Answer a question in one JSON response. Closing the connection stops the answer."""
    record = await runs.start(
        request.query, request.session_id, request.collection, principal=principal
    )
    batches = await runs.follow(
        record.run_id, principal=principal, cancel_on_close=CancelOrigin.DISCONNECT
    )
    answer = await unless_client_leaves(http_request, collect_answer(batches))
    return ChatAnswer(
        answer=answer.answer,
        sources=sources_of(answer.citations),
        session_id=answer.session_id,
        message_id=answer.message_id,
    )

"""Chat endpoints: SSE for fetch and EventSource, plain text, and whole JSON answers."""

import uuid
from typing import Annotated

from dependency_injector.wiring import Provide, inject
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from sse_starlette import EventSourceResponse

from app.api.chat_schemas import ChatAnswer, ChatRequest
from app.api.disconnects import unless_client_leaves
from app.api.openapi import ANSWER_ERRORS, STREAM_RESPONSES
from app.api.readiness import REQUIRE_READY
from app.api.sse import sources_of, to_plain_text, to_server_sent_events, turn_headers
from app.container import Container
from app.core.names import COLLECTION_NAME_PATTERN
from app.core.settings import Settings
from app.services.chat import ChatService
from app.services.intake import PreparedTurn

router = APIRouter(prefix="/api/chat", tags=["chat"], dependencies=REQUIRE_READY)

ChatServiceDep = Annotated[ChatService, Depends(Provide[Container.chat_service])]
SettingsDep = Annotated[Settings, Depends(Provide[Container.settings])]
SEND_TIMEOUT_S = 30.0


def _event_stream(
    service: ChatService, turn: PreparedTurn, settings: Settings
) -> EventSourceResponse:
    return EventSourceResponse(
        to_server_sent_events(service.stream(turn)),
        ping=settings.chat.heartbeat_s,
        headers=turn_headers(turn.session_id, turn.message_id),
        # A client that vanished without closing its connection must not hold the session.
        send_timeout=SEND_TIMEOUT_S,
    )


def _wants_plain_text(accept: str) -> bool:
    return "text/plain" in accept and "text/event-stream" not in accept


@router.post(
    "/stream", responses=STREAM_RESPONSES, response_class=EventSourceResponse, response_model=None
)
@inject
async def stream_chat(
    request: ChatRequest,
    service: ChatServiceDep,
    settings: SettingsDep,
    accept: Annotated[str, Header()] = "text/event-stream",
) -> EventSourceResponse | StreamingResponse:
    """Stream an answer as Server-Sent Events (or as plain text with `Accept: text/plain`)."""
    turn = await service.prepare(request.query, request.session_id, request.collection)
    if _wants_plain_text(accept):
        return StreamingResponse(
            to_plain_text(service.stream(turn)),
            media_type="text/plain; charset=utf-8",
            headers=turn_headers(turn.session_id, turn.message_id),
        )
    return _event_stream(service, turn, settings)


@router.get(
    "/stream", responses=STREAM_RESPONSES, response_class=EventSourceResponse, response_model=None
)
@inject
async def stream_chat_for_event_source(
    service: ChatServiceDep,
    settings: SettingsDep,
    query: Annotated[str, Query(description="The question.")],
    session_id: Annotated[
        uuid.UUID | None, Query(description="Continue this conversation.")
    ] = None,
    collection: Annotated[
        str | None,
        Query(pattern=COLLECTION_NAME_PATTERN, description="The document collection to search."),
    ] = None,
    last_event_id: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> EventSourceResponse | Response:
    """Stream an answer as Server-Sent Events, for the browser's `EventSource`.

    An `EventSource` that lost its connection reconnects by itself with `Last-Event-ID`; that
    answer was already stored as interrupted, so the reply is 204, which tells the browser to
    stop reconnecting instead of asking the question again.
    """
    if last_event_id is not None:
        return Response(status_code=204)
    turn = await service.prepare(query, session_id, collection)
    return _event_stream(service, turn, settings)


@router.post("", response_model=ChatAnswer, responses=ANSWER_ERRORS)
@inject
async def chat(request: ChatRequest, http_request: Request, service: ChatServiceDep) -> ChatAnswer:
    """Answer a question in one JSON response. Closing the connection stops the answer."""
    turn = await service.prepare(request.query, request.session_id, request.collection)
    answer = await unless_client_leaves(http_request, service.answer(turn))
    return ChatAnswer(
        answer=answer.answer,
        sources=sources_of(answer.citations),
        session_id=answer.session_id,
        message_id=answer.message_id,
    )

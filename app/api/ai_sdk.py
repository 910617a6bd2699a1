"""The Vercel AI SDK endpoint: `useChat` with `new DefaultChatTransport({api: "/api/ai-sdk/chat"})`
and no other glue. Each chat id is one conversation of its principal; a reload resumes the
answer in progress; stop cancels it."""

from typing import Annotated

from dependency_injector.wiring import inject
from fastapi import APIRouter, Depends, Response
from sse_starlette import EventSourceResponse

from app.api.ai_sdk_parts import UI_MESSAGE_STREAM_HEADERS, to_ui_message_stream
from app.api.ai_sdk_schemas import AiSdkChatRequest, ChatIdPath
from app.api.ai_sdk_stream_schemas import ui_message_stream_response
from app.api.event_stream import RunEventStream
from app.api.identity import PrincipalDep
from app.api.openapi import QUESTION_ERRORS
from app.api.provide import Provide
from app.api.readiness import REQUIRE_READY, REQUIRE_STARTED
from app.api.run_schemas import RunState
from app.api.sse import Batches
from app.container import Container
from app.core.runs import RunRecord
from app.core.settings import Settings
from app.services.client_chats import session_for_chat
from app.services.runs import RunService

router = APIRouter(prefix="/api/ai-sdk/chat", tags=["ai-sdk"])

RunServiceDep = Annotated[RunService, Depends(Provide[Container.run_service])]
SettingsDep = Annotated[Settings, Depends(Provide[Container.settings])]

_UI_MESSAGE_STREAM = ui_message_stream_response()
_IDLE = {"description": "No answer is in progress in this chat."}


def _stream(batches: Batches, record: RunRecord, settings: Settings) -> RunEventStream:
    return RunEventStream.for_run(
        to_ui_message_stream(batches), record, settings.chat, headers=UI_MESSAGE_STREAM_HEADERS
    )


@router.post(
    "",
    response_class=EventSourceResponse,
    response_model=None,
    dependencies=REQUIRE_READY,
    responses={200: _UI_MESSAGE_STREAM, **QUESTION_ERRORS},
)
@inject
async def ai_sdk_chat(
    request: AiSdkChatRequest, runs: RunServiceDep, principal: PrincipalDep, settings: SettingsDep
) -> RunEventStream:
    """Answer the chat's last user message as a UI message stream.

    Closing the connection does not stop the answer (a reload resumes it; nobody returning
    within the orphan grace cancels it): `POST /api/ai-sdk/chat/{id}/stop` stops it.
    """
    session_id = session_for_chat(principal, request.id)
    record = await runs.start(
        request.question(), session_id, request.collection, principal=principal, create_missing=True
    )
    batches = await runs.follow(record.run_id, principal=principal)
    return _stream(batches, record, settings)


@router.get(
    "/{chat_id}/stream",
    response_class=EventSourceResponse,
    response_model=None,
    dependencies=REQUIRE_STARTED,
    responses={200: _UI_MESSAGE_STREAM, 204: _IDLE},
)
@inject
async def resume_ai_sdk_chat(
    chat_id: ChatIdPath, runs: RunServiceDep, principal: PrincipalDep, settings: SettingsDep
) -> Response:
    """The answer in progress in this chat, from its start, then live (`useChat({resume:
    true})`); 204 when none is."""
    record = await runs.active_run(session_for_chat(principal, chat_id), principal)
    if record is None:
        return Response(status_code=204)
    return _stream(await runs.follow(record.run_id, principal=principal), record, settings)


@router.post(
    "/{chat_id}/stop",
    response_model=RunState,
    dependencies=REQUIRE_STARTED,
    responses={204: _IDLE},
)
@inject
async def stop_ai_sdk_chat(
    chat_id: ChatIdPath, runs: RunServiceDep, principal: PrincipalDep
) -> RunState | Response:
    """Stop the answer in progress in this chat (its partial text is saved as interrupted) and
    return its run's state; 204 when none is."""
    record = await runs.active_run(session_for_chat(principal, chat_id), principal)
    if record is None:
        return Response(status_code=204)
    return RunState.model_validate(await runs.cancel(record.run_id, principal))

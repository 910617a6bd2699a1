"""The AG-UI endpoint: CopilotKit and other AG-UI clients run Citestream as an agent."""

from typing import Annotated

from ag_ui.core import RunAgentInput
from dependency_injector.wiring import inject
from fastapi import APIRouter, Depends
from sse_starlette import EventSourceResponse

from app.api.ag_ui_events import AG_UI_STREAM_RESPONSE, ag_ui_stream
from app.api.ag_ui_input import collection_of, question_of, thread_of
from app.api.identity import PrincipalDep
from app.api.openapi import QUESTION_ERRORS
from app.api.provide import Provide
from app.api.readiness import REQUIRE_READY
from app.container import Container
from app.core.runs import CancelOrigin
from app.core.settings import Settings
from app.services.client_chats import session_for_chat
from app.services.runs import RunService

router = APIRouter(prefix="/api/ag-ui", tags=["ag-ui"], dependencies=REQUIRE_READY)

RunServiceDep = Annotated[RunService, Depends(Provide[Container.run_service])]
SettingsDep = Annotated[Settings, Depends(Provide[Container.settings])]


@router.post(
    "",
    responses={200: AG_UI_STREAM_RESPONSE, **QUESTION_ERRORS},
    response_class=EventSourceResponse,
    response_model=None,
)
@inject
async def run_agent(
    run: RunAgentInput, runs: RunServiceDep, principal: PrincipalDep, settings: SettingsDep
) -> EventSourceResponse:
    """Answer the thread's last user message as an AG-UI event stream.

    `threadId` names the conversation (its history is kept here; earlier `messages` are not
    read); `forwardedProps.collection` picks a collection. Closing the connection stops the
    answer at once (its partial text is saved).
    """
    record = await runs.start(
        question_of(run),
        session_for_chat(principal, thread_of(run)),
        collection_of(run),
        principal=principal,
        create_missing=True,
    )
    batches = await runs.follow(
        record.run_id, principal=principal, cancel_on_close=CancelOrigin.DISCONNECT
    )
    return ag_ui_stream(batches, run, record, settings.chat)

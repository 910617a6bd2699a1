"""Sessions endpoints: browse, rename and delete stored conversations."""

import uuid
from typing import Annotated

from dependency_injector.wiring import inject
from fastapi import APIRouter, Depends, Response

from app.api.fields import Offset, page_size
from app.api.identity import PrincipalDep
from app.api.openapi import problem_responses
from app.api.provide import Provide
from app.api.session_schemas import SessionDetail, SessionPage, SessionRename, SessionSummary
from app.container import Container
from app.services.sessions import MAX_PAGE_SIZE, SessionService

router = APIRouter(prefix="/api/sessions", tags=["sessions"])

SessionServiceDep = Annotated[SessionService, Depends(Provide[Container.session_service])]
Limit = Annotated[int, page_size(MAX_PAGE_SIZE)]

_NOT_FOUND = problem_responses(described={404: "No such session."})


@router.get("", response_model=SessionPage)
@inject
async def list_sessions(
    service: SessionServiceDep, principal: PrincipalDep, limit: Limit = 20, offset: Offset = 0
) -> SessionPage:
    """List your conversations, most recently active first."""
    return SessionPage.model_validate(await service.list_sessions(limit, offset, principal))


@router.get("/{session_id}", response_model=SessionDetail, responses=_NOT_FOUND)
@inject
async def get_session(
    session_id: uuid.UUID,
    service: SessionServiceDep,
    principal: PrincipalDep,
    limit: Limit = 50,
    offset: Offset = 0,
) -> SessionDetail:
    """Show a conversation with a page of its messages, in order."""
    return SessionDetail.model_validate(await service.get(session_id, limit, offset, principal))


@router.patch("/{session_id}", response_model=SessionSummary, responses=_NOT_FOUND)
@inject
async def rename_session(
    session_id: uuid.UUID,
    request: SessionRename,
    service: SessionServiceDep,
    principal: PrincipalDep,
) -> SessionSummary:
    """Rename a conversation."""
    return SessionSummary.model_validate(await service.rename(session_id, request.title, principal))


@router.delete(
    "/{session_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(
        described={404: "No such session.", 409: "The session is answering a question."}
    ),
)
@inject
async def delete_session(
    session_id: uuid.UUID, service: SessionServiceDep, principal: PrincipalDep
) -> Response:
    """Delete a conversation and all its messages."""
    await service.delete(session_id, principal)
    return Response(status_code=204)

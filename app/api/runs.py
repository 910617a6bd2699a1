"""Runs endpoints: start an answer, follow it from any connection, stop it from anywhere."""

import uuid
from typing import Annotated

from dependency_injector.wiring import inject
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sse_starlette import EventSourceResponse

from app.api.event_stream import RunEventStream
from app.api.identity import AccessToken, PrincipalDep
from app.api.openapi import QUESTION_ERRORS, problem_responses, stream_response
from app.api.provide import Provide
from app.api.readiness import REQUIRE_READY, REQUIRE_STARTED
from app.api.run_schemas import RunList, RunRequest, RunStarted, RunState
from app.api.sse import to_server_sent_events
from app.container import Container
from app.core.errors import InvalidInput
from app.core.settings import Settings
from app.services.runs import RunService

router = APIRouter(prefix="/api/runs", tags=["runs"])

RunServiceDep = Annotated[RunService, Depends(Provide[Container.run_service])]
SettingsDep = Annotated[Settings, Depends(Provide[Container.settings])]
_NOT_FOUND = problem_responses(
    described={404: "No such run, or it ended longer ago than the retention."}
)
# Event numbers stay far below this (CITESTREAM_RUNS__MAX_EVENTS); larger is not a number of one.
_MAX_EVENT_NUMBER = 999_999_999
# What `_event_number` accepts: a number, or `<anything>:<number>` (ids of GET /api/chat/stream).
_LAST_EVENT_ID_PATTERN = r"^\s*((.*:)?[0-9]{1,9})?\s*$"


@router.post(
    "",
    status_code=202,
    response_model=RunStarted,
    dependencies=REQUIRE_READY,
    responses=QUESTION_ERRORS,
)
@inject
async def start_run(
    request: RunRequest, http: Request, runs: RunServiceDep, principal: PrincipalDep
) -> RunStarted:
    """Start answering a question; the answer runs whether or not anyone listens yet."""
    record = await runs.start(
        request.query,
        request.session_id,
        request.collection,
        background=request.background,
        principal=principal,
    )
    base = str(http.url_for("follow_run", run_id=str(record.run_id)))
    return RunStarted(
        run_id=record.run_id,
        session_id=record.session_id,
        message_id=record.message_id,
        events_url=base,
        cancel_url=str(http.url_for("cancel_run", run_id=str(record.run_id))),
    )


@router.get("", response_model=RunList, dependencies=REQUIRE_STARTED)
@inject
async def list_runs(
    runs: RunServiceDep,
    principal: PrincipalDep,
    session_id: Annotated[
        uuid.UUID, Query(description="The conversation whose running answer to find.")
    ],
) -> RunList:
    """The run answering in a conversation right now, if any (`items` is then empty): how a
    client finds an answer again after a reload."""
    active = await runs.active_run(session_id, principal)
    return RunList(items=[] if active is None else [RunState.model_validate(active)])


@router.get(
    "/{run_id}/events",
    response_class=EventSourceResponse,
    response_model=None,
    dependencies=REQUIRE_STARTED,
    responses={
        200: stream_response(),
        204: {"description": "Nothing after `Last-Event-ID`: the run had ended there."},
        **_NOT_FOUND,
    },
)
@inject
async def follow_run(
    run_id: uuid.UUID,
    runs: RunServiceDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    last_event_id_header: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="Resume after this event (its number).",
            json_schema_extra={"pattern": _LAST_EVENT_ID_PATTERN},
        ),
    ] = None,
    last_event_id: Annotated[
        int | None,
        Query(
            ge=0,
            le=_MAX_EVENT_NUMBER,
            description="Resume after this event (for clients without headers).",
        ),
    ] = None,
    access_token: AccessToken = None,
) -> EventSourceResponse | Response:
    """The run's events (`meta`, `message`…, `source` | `error`) with ids 1, 2, 3…: all of them,
    or those after `Last-Event-ID`, then live until the final event. Any number of listeners.
    204 when the final event is already behind `Last-Event-ID` (an EventSource then stops)."""
    # The header is checked even when the parameter wins: a malformed one is still an error.
    from_header = _event_number(last_event_id_header)
    after = last_event_id if last_event_id is not None else from_header
    record = await runs.status(run_id, principal)
    if record.final_seq is not None and after >= record.final_seq:
        return Response(status_code=204)
    batches = await runs.follow(run_id, after, principal=principal)
    return RunEventStream.for_run(to_server_sent_events(batches), record, settings.chat)


@router.post(
    "/{run_id}/cancel",
    response_model=RunState,
    dependencies=REQUIRE_STARTED,
    responses=_NOT_FOUND,
    name="cancel_run",
)
@inject
async def cancel_run(run_id: uuid.UUID, runs: RunServiceDep, principal: PrincipalDep) -> RunState:
    """Stop the run's model wherever it executes; the partial answer is saved as interrupted.
    A run that has ended is left as it is. Returns the run's state."""
    return RunState.model_validate(await runs.cancel(run_id, principal))


@router.get(
    "/{run_id}",
    response_model=RunState,
    dependencies=REQUIRE_STARTED,
    responses=_NOT_FOUND,
)
@inject
async def get_run(run_id: uuid.UUID, runs: RunServiceDep, principal: PrincipalDep) -> RunState:
    """Where the run stands, with its timings."""
    return RunState.model_validate(await runs.status(run_id, principal))


def _event_number(header: str | None) -> int:
    if header is None or not header.strip():
        return 0
    number = header.strip().rpartition(":")[2]  # `<run_id>:<n>` from GET /api/chat/stream
    if not (number.isascii() and number.isdigit() and len(number) <= 9):
        raise InvalidInput(
            "Last-Event-ID must be the number of an event of this run.", field_name="Last-Event-ID"
        )
    return int(number)

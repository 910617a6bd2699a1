"""Who the request is from, as a FastAPI dependency. Routers ask for `PrincipalDep`."""

import uuid
from typing import Annotated

from dependency_injector.wiring import inject
from fastapi import Depends, Query, Request

from app.api.provide import Provide
from app.core.log_context import bind_log_ids
from app.core.principals import Principal
from app.services.auth import AuthService, Credentials

AuthServiceDep = Annotated[AuthService, Depends(Provide["auth_service"])]

# The GET streams an EventSource opens, where `?access_token=` is accepted (route names).
_TOKEN_ROUTES = frozenset({"follow_run", "stream_chat_for_event_source"})


def credentials_of(request: Request, cookie_name: str) -> Credentials:
    """What the request offers as proof of who it is."""
    authorization = request.headers.get("authorization")
    bearer = None
    if authorization is not None:
        scheme, _, value = authorization.partition(" ")
        # A malformed header is a wrong key, not "no key": it must not fall back to a cookie.
        bearer = value.strip() if scheme.lower() == "bearer" else ""
    route_name = getattr(request.scope.get("route"), "name", None)
    token = None
    if request.method == "GET" and route_name in _TOKEN_ROUTES:
        token = request.query_params.get("access_token")
    # A token binds one stream: a run's events by their path, a chat stream by its session (a
    # session id in the query of a run's events must not stand in for the run).
    follows_run = route_name == "follow_run"
    streams_chat = route_name == "stream_chat_for_event_source"
    return Credentials(
        method=request.method,
        # A GET of the chat stream asks a question: a change, for the CSRF check.
        starts_work=streams_chat,
        bearer=bearer,
        access_token=token,
        stream_run=_uuid(request.path_params.get("run_id")) if follows_run else None,
        stream_session=_uuid(request.query_params.get("session_id")) if streams_chat else None,
        cookie=request.cookies.get(cookie_name),
        origin=request.headers.get("origin"),
        sec_fetch_site=request.headers.get("sec-fetch-site"),
        own_origin=f"{request.url.scheme}://{request.url.netloc}",
    )


@inject
async def current_principal(request: Request, auth: AuthServiceDep) -> Principal:
    """The caller of this request: 401 when auth is enforced and no valid credential is sent."""
    credentials = credentials_of(request, auth.settings.session_cookie)
    principal = await auth.authenticate(credentials)
    bind_log_ids(principal_id=principal.id)  # the request's log records, and its runs', name it
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]

# Declared by the GET streams so `/openapi.json` shows it; `current_principal` reads it.
AccessToken = Annotated[
    str | None,
    Query(
        description="A stream token from POST /api/stream-tokens, for clients that cannot send "
        "headers (EventSource). Valid only for the run or session it was issued for."
    ),
]


def _uuid(value: object) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value)) if value is not None else None
    except ValueError:
        return None

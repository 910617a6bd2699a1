"""Identity endpoints: stream tokens for EventSource, and the browser's cookie session."""

from typing import Annotated

from dependency_injector.wiring import inject
from fastapi import APIRouter, Depends, Request, Response

from app.api.admission import ADMIT_REQUEST
from app.api.auth_schemas import StreamToken, StreamTokenRequest
from app.api.identity import AuthServiceDep, PrincipalDep
from app.api.openapi import problem_responses
from app.api.provide import Provide
from app.services.stream_tokens import StreamTokenService

router = APIRouter(tags=["identity"])

StreamTokensDep = Annotated[StreamTokenService, Depends(Provide["stream_token_service"])]
_UNAUTHENTICATED = problem_responses(
    described={401: "No valid API key (sent with WWW-Authenticate: Bearer)."}
)


# Minting tokens and cookies counts toward the key's requests per minute (signing out does not:
# it needs no proof, so a stale cookie can always be cleared).
@router.post(
    "/api/stream-tokens",
    dependencies=ADMIT_REQUEST,
    response_model=StreamToken,
    responses={**_UNAUTHENTICATED, **problem_responses(described={404: "No such run or session."})},
)
@inject
async def issue_stream_token(
    body: StreamTokenRequest, principal: PrincipalDep, tokens: StreamTokensDep
) -> StreamToken:
    """A short-lived token for one run's or one session's stream, for `EventSource` (which
    cannot send headers): pass it as `?access_token=`. Valid only for GETs of that stream."""
    issued = await tokens.issue(principal, body.run_id, body.session_id)
    return StreamToken(token=issued.token, expires_in_s=issued.expires_in_s)


@router.post(
    "/api/auth/session",
    dependencies=ADMIT_REQUEST,
    status_code=204,
    response_class=Response,
    responses=_UNAUTHENTICATED,
)
@inject
async def open_session(request: Request, principal: PrincipalDep, auth: AuthServiceDep) -> Response:
    """Sign the browser in: sets an HttpOnly, SameSite=Strict session cookie for the key sent."""
    response = Response(status_code=204)
    response.set_cookie(
        auth.settings.session_cookie,
        auth.session_cookie(principal),
        max_age=int(auth.settings.session_ttl_s),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.delete("/api/auth/session", status_code=204, response_class=Response)
@inject
async def close_session(request: Request, auth: AuthServiceDep) -> Response:
    """Sign the browser out: clears the session cookie."""
    response = Response(status_code=204)
    response.delete_cookie(
        auth.settings.session_cookie,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response

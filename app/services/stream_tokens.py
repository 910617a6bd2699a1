"""Stream tokens for clients that cannot send headers (the browser's EventSource)."""

from __future__ import annotations

import uuid

from app.core.errors import InvalidInput
from app.core.principals import Principal
from app.services.auth import AuthService, IssuedToken
from app.services.runs import RunService
from app.services.sessions import SessionService


class StreamTokenService:
    """Issues a token bound to one run or session the caller may see (404 otherwise)."""

    def __init__(self, *, auth: AuthService, runs: RunService, sessions: SessionService) -> None:
        self._auth = auth
        self._runs = runs
        self._sessions = sessions

    async def issue(
        self, principal: Principal, run_id: uuid.UUID | None, session_id: uuid.UUID | None
    ) -> IssuedToken:
        """A token for the events of `run_id`, or for answers streamed in `session_id`."""
        if (run_id is None) == (session_id is None):
            raise InvalidInput("Name exactly one of run_id and session_id.", field_name="body")
        if run_id is not None:
            await self._runs.status(run_id, principal)
        if session_id is not None:
            await self._sessions.get(session_id, 1, 0, principal)
        return await self._auth.issue_stream_token(principal, run_id, session_id)

"""The sessions service: browse, rename and delete stored conversations."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Protocol

from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.pagination import Page
from app.core.principals import Principal
from app.memory.sessions import MessageRow, SessionRepository, SessionRow

MAX_PAGE_SIZE = 100
MAX_TITLE_CHARS = 200


class WindowInvalidator(Protocol):
    """Port for the cache of recent conversation windows: forget one session's window."""

    async def invalidate(self, session_id: uuid.UUID) -> None: ...


@dataclass(frozen=True)
class SessionWithMessages(SessionRow):
    """A session and one page of its messages."""

    messages: Page[MessageRow]


class SessionService:
    """Lists, shows, renames and deletes conversations."""

    def __init__(
        self, *, repository: SessionRepository, cache: WindowInvalidator | None = None
    ) -> None:
        self._repository = repository
        self._cache = cache

    async def list_sessions(
        self, limit: int, offset: int, principal: Principal
    ) -> Page[SessionRow]:
        """A page of the principal's sessions (an admin's: all), most recently active first."""
        _check_window(limit, offset)
        return await self._repository.list_sessions(limit, offset, principal.owner_filter)

    async def get(
        self, session_id: uuid.UUID, limit: int, offset: int, principal: Principal
    ) -> SessionWithMessages:
        """A session with a page of its messages, in conversation order (404: not yours)."""
        _check_window(limit, offset)
        session = await self._repository.get(session_id, principal.owner_filter)
        if session is None:
            raise _not_found(session_id)
        messages = await self._repository.list_messages(session_id, limit, offset)
        return SessionWithMessages(**asdict(session), messages=messages)

    async def rename(self, session_id: uuid.UUID, title: str, principal: Principal) -> SessionRow:
        """Give a session a new title (surrounding whitespace dropped)."""
        text = title.strip()
        if not text:
            raise InvalidInput("The title is empty.", field_name="title")
        if len(text) > MAX_TITLE_CHARS:
            raise InvalidInput(
                f"The title has {len(text)} characters; at most {MAX_TITLE_CHARS} are allowed.",
                field_name="title",
            )
        session = await self._repository.rename(session_id, text, principal.owner_filter)
        if session is None:
            raise _not_found(session_id)
        return session

    async def delete(self, session_id: uuid.UUID, principal: Principal) -> None:
        """Delete a session and its messages, and forget its cached conversation window."""
        outcome = await self._repository.delete(session_id, principal.owner_filter)
        if outcome == "missing":
            raise _not_found(session_id)
        if outcome == "busy":
            raise Conflict(
                f"Session {session_id} is answering a question; delete it once the answer ends."
            )
        # After the delete, so a concurrent reader cannot refill the cache from the old rows.
        if self._cache is not None:
            await self._cache.invalidate(session_id)


def _check_window(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(
            f"limit must be between 1 and {MAX_PAGE_SIZE}; got {limit}.", field_name="limit"
        )
    if offset < 0:
        raise InvalidInput(f"offset must not be negative; got {offset}.", field_name="offset")


def _not_found(session_id: uuid.UUID) -> NotFound:
    return NotFound(f"There is no session {session_id}.")

"""What a follow-up is condensed with: a session's recent window of finished messages, read
from the window cache and, on a miss, from the database."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.database import Database, table_of
from app.memory.cache import WindowCache
from app.memory.messages import INTERRUPTED_MARKER, HistoryMessage, MessageRole, MessageStatus
from app.memory.models import ChatMessage, ChatSession

# The three columns the window needs, from the table (a Core query): loading whole ChatMessage
# objects, with their sources' JSON, cost more than the rest of a turn's reads.
_MESSAGES = table_of(ChatMessage).c
# Built once, with named parameters: building it per call cost more than running it.
_WINDOW = (
    select(_MESSAGES.role, _MESSAGES.content, _MESSAGES.status)
    .where(
        _MESSAGES.session_id == bindparam("session_id"),
        _MESSAGES.status.in_([MessageStatus.COMPLETE, MessageStatus.INTERRUPTED])
        | (_MESSAGES.role == MessageRole.USER),
    )
    .order_by(_MESSAGES.seq.desc())
    .limit(bindparam("limit"))
)


class ConversationHistory:
    """Reads each session's recent window; keeps the cache filled as it goes."""

    def __init__(self, database: Database, cache: WindowCache, window_messages: int) -> None:
        self._database = database
        self._cache = cache
        self._window_messages = window_messages

    async def recent(self, session_id: uuid.UUID, limit: int) -> list[HistoryMessage]:
        """The last `limit` finished messages, oldest first; interrupted answers are marked."""
        if limit == 0:
            return []
        cached = await self._cache.get(session_id)
        if cached is not None and (len(cached) >= limit or len(cached) < self._window_messages):
            return cached[-limit:]
        window = await self.window_from_database(session_id, max(limit, self._window_messages))
        await self._cache.put(session_id, window)
        return window[-limit:]

    async def cache_window_in(self, db: AsyncConnection, session_id: uuid.UUID) -> None:
        """Cache the session's window as the transaction `db` sees it (its own writes too)."""
        await self._cache.put(session_id, await self._window(db, session_id, self._window_messages))

    async def forget(self, session_id: uuid.UUID) -> None:
        """Drop the cached window (the conversation moved on, or was deleted)."""
        await self._cache.invalidate(session_id)

    async def window_from_database(self, session_id: uuid.UUID, limit: int) -> list[HistoryMessage]:
        """The last `limit` finished messages as the database holds them."""
        async with self._database.read_once() as db:
            return await self._window(db, session_id, limit)

    async def _window(
        self, db: AsyncConnection, session_id: uuid.UUID, limit: int
    ) -> list[HistoryMessage]:
        rows = list((await db.execute(_WINDOW, {"session_id": session_id, "limit": limit})).all())
        rows.reverse()
        return [_as_history(*row) for row in rows if row.content]

    async def collection_of(self, session_id: uuid.UUID) -> str | None:
        """The collection a session searches by default (None: the default collection)."""
        async with self._database.read_once() as db:
            return await db.scalar(
                select(ChatSession.collection).where(ChatSession.id == session_id)
            )


def _as_history(role: MessageRole, content: str, status: MessageStatus) -> HistoryMessage:
    # The condense step sees what the user saw: a partial answer, marked as cut short.
    if status == MessageStatus.INTERRUPTED:
        content += INTERRUPTED_MARKER
    return HistoryMessage(role=role, content=content)

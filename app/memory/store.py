"""The conversation store: sessions, turns, and the history that follow-ups are condensed with."""

from __future__ import annotations

import enum
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import func, select, update

from app.core.database import Database, utcnow
from app.core.errors import Conflict
from app.core.names import DEFAULT_COLLECTION
from app.memory.models import ChatMessage, ChatSession, MessageRole, MessageStatus

if TYPE_CHECKING:  # cache.py builds on HistoryMessage below
    from app.memory.cache import WindowCache

logger = logging.getLogger(__name__)

INTERRUPTED_MARKER = " [answer interrupted]"


@dataclass(frozen=True)
class HistoryMessage:
    """One earlier message, as the condense step sees it."""

    role: MessageRole
    content: str


@dataclass(frozen=True)
class TurnOutcome:
    """How an answer ended, to be written to its assistant message."""

    content: str
    status: MessageStatus
    sources: list[dict[str, Any]]
    error_code: str | None
    token_count: int
    latency_ms: int


class ClaimResult(enum.StrEnum):
    """How a claim on a session went."""

    CLAIMED = "claimed"
    BUSY = "busy"
    MISSING = "missing"


class ConversationStore(Protocol):
    """Port for the conversation memory; SQL is the one implementation so far."""

    async def claim(
        self, session_id: uuid.UUID, message_id: uuid.UUID, until: datetime
    ) -> ClaimResult: ...

    async def release(self, session_id: uuid.UUID, message_id: uuid.UUID) -> None: ...

    async def history(self, session_id: uuid.UUID, limit: int) -> list[HistoryMessage]: ...

    async def collection_of(self, session_id: uuid.UUID) -> str | None: ...

    async def begin_turn(
        self,
        session_id: uuid.UUID,
        assistant_message_id: uuid.UUID,
        query: str,
        claim_until: datetime,
        collection: str = DEFAULT_COLLECTION,
    ) -> None: ...

    async def finish_turn(
        self, session_id: uuid.UUID, assistant_message_id: uuid.UUID, outcome: TurnOutcome
    ) -> None: ...


class SqlConversationStore:
    """Sessions and messages in SQLite or PostgreSQL, with each session's recent window cached.

    Writes go to the database first, then to the cache (write-through); reads of the window try
    the cache and fall back to the database.
    """

    def __init__(self, database: Database, cache: WindowCache, window_messages: int) -> None:
        self._database = database
        self._cache = cache
        self._window_messages = window_messages

    async def claim(
        self, session_id: uuid.UUID, message_id: uuid.UUID, until: datetime
    ) -> ClaimResult:
        """Reserve the session for one answer: an atomic compare-and-set in the database.

        A claim whose time has passed (its process died mid-answer) may be taken over.
        """
        now = utcnow()
        async with self._database.session() as db:
            result = await db.execute(
                update(ChatSession)
                .where(
                    ChatSession.id == session_id,
                    ChatSession.free_at(now),
                )
                .values(active_message_id=message_id, active_until=until)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                # Holding the session, any answer still marked streaming was left behind by a
                # worker that died or could not save it: it ended, interrupted.
                await db.execute(
                    update(ChatMessage)
                    .where(
                        ChatMessage.session_id == session_id,
                        ChatMessage.status == MessageStatus.STREAMING,
                    )
                    .values(status=MessageStatus.INTERRUPTED, completed_at=now)
                    .execution_options(synchronize_session=False)
                )
                return ClaimResult.CLAIMED
            exists = await db.get(ChatSession, session_id) is not None
        return ClaimResult.BUSY if exists else ClaimResult.MISSING

    async def release(self, session_id: uuid.UUID, message_id: uuid.UUID) -> None:
        """Give the session back, if this answer still holds it."""
        async with self._database.session() as db:
            await db.execute(
                update(ChatSession)
                .where(ChatSession.id == session_id, ChatSession.active_message_id == message_id)
                .values(active_message_id=None, active_until=None)
                .execution_options(synchronize_session=False)
            )

    async def history(self, session_id: uuid.UUID, limit: int) -> list[HistoryMessage]:
        """The last `limit` finished messages, oldest first; interrupted answers are marked."""
        if limit == 0:
            return []
        cached = await self._cache.get(session_id)
        if cached is not None and (len(cached) >= limit or len(cached) < self._window_messages):
            return cached[-limit:]
        window = await self._window_from_database(session_id, max(limit, self._window_messages))
        await self._cache.put(session_id, window)
        return window[-limit:]

    async def _window_from_database(
        self, session_id: uuid.UUID, limit: int
    ) -> list[HistoryMessage]:
        query = (
            select(ChatMessage)
            .where(
                ChatMessage.session_id == session_id,
                ChatMessage.status.in_([MessageStatus.COMPLETE, MessageStatus.INTERRUPTED])
                | (ChatMessage.role == MessageRole.USER),
            )
            .order_by(ChatMessage.seq.desc())
            .limit(limit)
        )
        async with self._database.reading() as db:
            rows = list((await db.scalars(query)).all())
        rows.reverse()
        return [_as_history(row) for row in rows if row.content]

    async def collection_of(self, session_id: uuid.UUID) -> str | None:
        """The collection a session searches by default (None: the default collection)."""
        async with self._database.reading() as db:
            return await db.scalar(
                select(ChatSession.collection).where(ChatSession.id == session_id)
            )

    async def begin_turn(
        self,
        session_id: uuid.UUID,
        assistant_message_id: uuid.UUID,
        query: str,
        claim_until: datetime,
        collection: str = DEFAULT_COLLECTION,
    ) -> None:
        """Store the question and a placeholder answer, creating the session on its first turn.

        A new session is created already claimed by this answer, searching `collection`.
        """
        async with self._database.session() as db:
            session = await db.get(ChatSession, session_id)
            if session is not None:
                # Still ours? A reservation that ran out may have been taken by another request.
                held = await db.execute(
                    update(ChatSession)
                    .where(
                        ChatSession.id == session_id,
                        ChatSession.active_message_id == assistant_message_id,
                    )
                    .values(active_until=claim_until)  # the reservation now covers the answer
                    .execution_options(synchronize_session=False)
                )
                if held.rowcount != 1:  # type: ignore[attr-defined]
                    raise Conflict(
                        f"Session {session_id} was taken by another question before this "
                        "answer could start; ask again."
                    )
            if session is None:
                session = ChatSession(
                    id=session_id,
                    title=_title_from(query),
                    collection=collection,
                    active_message_id=assistant_message_id,
                    active_until=claim_until,
                )
                db.add(session)
                await db.flush()
            last_seq = await db.scalar(
                select(func.max(ChatMessage.seq)).where(ChatMessage.session_id == session_id)
            )
            seq = (last_seq or 0) + 1
            user = ChatMessage(
                session_id=session_id,
                seq=seq,
                role=MessageRole.USER,
                content=query,
                status=MessageStatus.COMPLETE,
                completed_at=utcnow(),
            )
            assistant = ChatMessage(
                id=assistant_message_id,
                session_id=session_id,
                seq=seq + 1,
                role=MessageRole.ASSISTANT,
                content="",
                status=MessageStatus.STREAMING,
            )
            db.add_all([user, assistant])
            session.updated_at = utcnow()
        # The cached window no longer ends where the conversation does.
        await self._cache.invalidate(session_id)

    async def finish_turn(
        self, session_id: uuid.UUID, assistant_message_id: uuid.UUID, outcome: TurnOutcome
    ) -> None:
        """Write how the answer ended and free the session.

        Only a message still streaming is updated, so the answer is saved exactly once.
        """
        async with self._database.session() as db:
            await db.execute(
                update(ChatMessage)
                .where(
                    ChatMessage.id == assistant_message_id,
                    ChatMessage.status == MessageStatus.STREAMING,
                )
                .values(
                    content=outcome.content,
                    status=outcome.status,
                    sources=outcome.sources,
                    error_code=outcome.error_code,
                    token_count=outcome.token_count,
                    latency_ms=outcome.latency_ms,
                    completed_at=utcnow(),
                )
            )
        # Cache the new window while this answer still holds the session: written after the
        # release, it could land after the next turn's newer window and replace it.
        window = await self._window_from_database(session_id, self._window_messages)
        await self._cache.put(session_id, window)
        async with self._database.session() as db:
            await db.execute(
                update(ChatSession)
                .where(
                    ChatSession.id == session_id,
                    ChatSession.active_message_id == assistant_message_id,
                )
                .values(active_message_id=None, active_until=None, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )


def _as_history(message: ChatMessage) -> HistoryMessage:
    # The condense step sees what the user saw: a partial answer, marked as cut short.
    content = message.content
    if message.status == MessageStatus.INTERRUPTED:
        content += INTERRUPTED_MARKER
    return HistoryMessage(role=message.role, content=content)


def _title_from(query: str) -> str:
    first_line = " ".join(query.split())
    return first_line if len(first_line) <= 80 else first_line[:79] + "…"

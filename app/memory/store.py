"""The conversation store: sessions, turns, and the history that follow-ups are condensed with."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import func, select, update

from app.memory.database import Database
from app.memory.models import ChatMessage, ChatSession, MessageRole, MessageStatus, utcnow

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


class ConversationStore(Protocol):
    """Port for the conversation memory; SQL is the one implementation so far."""

    async def session_exists(self, session_id: uuid.UUID) -> bool: ...

    async def history(self, session_id: uuid.UUID, limit: int) -> list[HistoryMessage]: ...

    async def begin_turn(
        self, session_id: uuid.UUID, assistant_message_id: uuid.UUID, query: str
    ) -> None: ...

    async def finish_turn(self, assistant_message_id: uuid.UUID, outcome: TurnOutcome) -> None: ...

    async def messages(self, session_id: uuid.UUID) -> list[ChatMessage]: ...


class SqlConversationStore:
    """Sessions and messages in SQLite or PostgreSQL through SQLAlchemy async."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def session_exists(self, session_id: uuid.UUID) -> bool:
        async with self._database.session() as db:
            return await db.get(ChatSession, session_id) is not None

    async def history(self, session_id: uuid.UUID, limit: int) -> list[HistoryMessage]:
        """The last `limit` finished messages, oldest first; interrupted answers are marked."""
        if limit == 0:
            return []
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
        async with self._database.session() as db:
            rows = list((await db.scalars(query)).all())
        rows.reverse()
        return [_as_history(row) for row in rows if row.content]

    async def begin_turn(
        self, session_id: uuid.UUID, assistant_message_id: uuid.UUID, query: str
    ) -> None:
        """Store the question and a placeholder answer, creating the session on its first turn."""
        async with self._database.session() as db:
            session = await db.get(ChatSession, session_id)
            if session is None:
                session = ChatSession(id=session_id, title=_title_from(query))
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

    async def finish_turn(self, assistant_message_id: uuid.UUID, outcome: TurnOutcome) -> None:
        """Write how the answer ended. Only a message still streaming is updated: exactly once."""
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

    async def messages(self, session_id: uuid.UUID) -> list[ChatMessage]:
        """Every message of a session, in order."""
        query = (
            select(ChatMessage)
            .where(ChatMessage.session_id == session_id)
            .order_by(ChatMessage.seq)
        )
        async with self._database.session() as db:
            return list((await db.scalars(query)).all())


def _as_history(message: ChatMessage) -> HistoryMessage:
    # The condense step sees what the user saw: a partial answer, marked as cut short.
    content = message.content
    if message.status == MessageStatus.INTERRUPTED:
        content += INTERRUPTED_MARKER
    return HistoryMessage(role=message.role, content=content)


def _title_from(query: str) -> str:
    first_line = " ".join(query.split())
    return first_line if len(first_line) <= 80 else first_line[:79] + "…"

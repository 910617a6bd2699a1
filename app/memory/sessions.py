"""Stored conversations as a browsable list: pages of sessions and of their messages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import Database, as_utc, utcnow
from app.core.pagination import Page
from app.memory.messages import MessageRole, MessageStatus
from app.memory.models import ChatMessage, ChatSession


@dataclass(frozen=True)
class SessionRow:
    """A session as a list shows it."""

    id: uuid.UUID
    title: str | None
    collection: str | None
    created_at: datetime
    updated_at: datetime
    message_count: int


@dataclass(frozen=True)
class MessageRow:
    """One stored message."""

    id: uuid.UUID
    role: MessageRole
    content: str
    status: MessageStatus
    sources: list[dict[str, Any]] | None
    error_code: str | None
    token_count: int | None
    latency_ms: int | None
    created_at: datetime
    completed_at: datetime | None


# Correlated, so a page of sessions counts only its own messages (served by the
# (session_id, seq) unique index) rather than grouping the whole messages table.
_MESSAGE_COUNT = (
    select(func.count(ChatMessage.id))
    .where(ChatMessage.session_id == ChatSession.id)
    .correlate(ChatSession)
    .scalar_subquery()
)


def _owned_by(owner: str | None) -> list[ColumnElement[bool]]:
    # None: an admin's view, every session.
    return [] if owner is None else [ChatSession.principal_id == owner]


class SessionRepository:
    """Reads, renames and deletes sessions in SQLite or PostgreSQL. `owner` restricts each
    call to one principal's sessions (None: all of them); another's session is "missing"."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def list_sessions(self, limit: int, offset: int, owner: str | None) -> Page[SessionRow]:
        """Sessions, most recently active first; ties broken by id so pages never overlap."""
        query = (
            select(ChatSession, _MESSAGE_COUNT)
            .where(*_owned_by(owner))
            .order_by(ChatSession.updated_at.desc(), ChatSession.id)
            .limit(limit)
            .offset(offset)
        )
        async with self._database.reading() as db:
            total = await db.scalar(
                select(func.count()).select_from(ChatSession).where(*_owned_by(owner))
            )
            rows = (await db.execute(query)).tuples().all()
        items = [_session_row(session, count) for session, count in rows]
        return Page(items=items, total=total or 0, limit=limit, offset=offset)

    async def get(self, session_id: uuid.UUID, owner: str | None) -> SessionRow | None:
        """One session, or None when there is no such session."""
        async with self._database.reading() as db:
            return await _get(db, session_id, owner)

    async def list_messages(
        self, session_id: uuid.UUID, limit: int, offset: int
    ) -> Page[MessageRow]:
        """A session's messages in conversation order."""
        query = (
            select(ChatMessage)
            .where(ChatMessage.session_id == session_id)
            .order_by(ChatMessage.seq)
            .limit(limit)
            .offset(offset)
        )
        async with self._database.reading() as db:
            total = await db.scalar(
                select(func.count(ChatMessage.id)).where(ChatMessage.session_id == session_id)
            )
            messages = (await db.scalars(query)).all()
        items = [_message_row(message) for message in messages]
        return Page(items=items, total=total or 0, limit=limit, offset=offset)

    async def rename(
        self, session_id: uuid.UUID, title: str, owner: str | None
    ) -> SessionRow | None:
        """Set a session's title; None when there is no such session."""
        async with self._database.session() as db:
            session = await db.get(ChatSession, session_id)
            if session is None or (owner is not None and session.principal_id != owner):
                return None
            session.title = title
            await db.flush()
            return await _get(db, session_id, owner)

    async def delete(self, session_id: uuid.UUID, owner: str | None) -> str:
        """Delete a session unless it is answering; its messages go with it (ON DELETE CASCADE).

        Returns "deleted", "busy" (an answer holds the session) or "missing".
        """
        now = utcnow()
        async with self._database.session() as db:
            deleted = await db.scalar(
                delete(ChatSession)
                .where(
                    ChatSession.id == session_id,
                    ChatSession.free_at(now),
                    *_owned_by(owner),
                )
                .returning(ChatSession.id)
            )
            if deleted is not None:
                return "deleted"
            session = await db.get(ChatSession, session_id)
            exists = session is not None and (owner is None or session.principal_id == owner)
        return "busy" if exists else "missing"


async def _get(db: AsyncSession, session_id: uuid.UUID, owner: str | None) -> SessionRow | None:
    query = select(ChatSession, _MESSAGE_COUNT).where(
        ChatSession.id == session_id, *_owned_by(owner)
    )
    row = (await db.execute(query)).tuples().one_or_none()
    return None if row is None else _session_row(*row)


def _session_row(session: ChatSession, message_count: int) -> SessionRow:
    return SessionRow(
        id=session.id,
        title=session.title,
        collection=session.collection,
        created_at=as_utc(session.created_at),
        updated_at=as_utc(session.updated_at),
        message_count=message_count,
    )


def _message_row(message: ChatMessage) -> MessageRow:
    return MessageRow(
        id=message.id,
        role=message.role,
        content=message.content,
        status=message.status,
        sources=message.sources,
        error_code=message.error_code,
        token_count=message.token_count,
        latency_ms=message.latency_ms,
        created_at=as_utc(message.created_at),
        completed_at=None if message.completed_at is None else as_utc(message.completed_at),
    )

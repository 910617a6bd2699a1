"""A turn of a conversation: the question and its answer, stored when the answer starts and
written once more when it ends, exactly once."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select, update

from app.core.clock import Clock
from app.core.database import Database
from app.core.errors import Conflict
from app.core.names import DEFAULT_COLLECTION
from app.memory.history import ConversationHistory
from app.memory.messages import MessageRole, MessageStatus, TurnOutcome
from app.memory.models import ChatMessage, ChatSession


class TurnStore:
    """Begins and finishes turns; keeps each session's cached window in step (write-through:
    the database first, then the cache)."""

    def __init__(self, database: Database, history: ConversationHistory, clock: Clock) -> None:
        self._database = database
        self._history = history
        self._clock = clock

    async def begin(
        self,
        session_id: uuid.UUID,
        assistant_message_id: uuid.UUID,
        query: str,
        hold_for: timedelta,
        collection: str = DEFAULT_COLLECTION,
    ) -> None:
        """Store the question and a placeholder answer, creating the session on its first turn.

        A new session is created already claimed by this answer, searching `collection`; an
        existing one must still be claimed by it, and its claim now holds for `hold_for`.
        """
        now = self._clock.now()
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
                    .values(active_until=now + hold_for)  # the claim now covers the answer
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
                    active_until=now + hold_for,
                    created_at=now,
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
                created_at=now,
                completed_at=now,
            )
            assistant = ChatMessage(
                id=assistant_message_id,
                session_id=session_id,
                seq=seq + 1,
                role=MessageRole.ASSISTANT,
                content="",
                status=MessageStatus.STREAMING,
                created_at=now,
            )
            db.add_all([user, assistant])
            session.updated_at = now
        # The cached window no longer ends where the conversation does.
        await self._history.forget(session_id)

    async def finish(
        self, session_id: uuid.UUID, assistant_message_id: uuid.UUID, outcome: TurnOutcome
    ) -> bool:
        """Write how the answer ended and free the session; False when the answer had already
        been written (only a message still streaming is updated: exactly once)."""
        async with self._database.session() as db:
            written = await db.execute(
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
                    completed_at=self._clock.now(),
                )
                .execution_options(synchronize_session=False)
            )
        # Cache the new window while this answer still holds the session: written after the
        # release, it could land after the next turn's newer window and replace it.
        await self._history.refresh(session_id)
        async with self._database.session() as db:
            await db.execute(
                update(ChatSession)
                .where(
                    ChatSession.id == session_id,
                    ChatSession.active_message_id == assistant_message_id,
                )
                .values(active_message_id=None, active_until=None, updated_at=self._clock.now())
                .execution_options(synchronize_session=False)
            )
        return bool(written.rowcount == 1)  # type: ignore[attr-defined]

    async def status_of(self, assistant_message_id: uuid.UUID) -> MessageStatus | None:
        """Where a stored answer stands (None: no such message)."""
        async with self._database.reading() as db:
            return await db.scalar(
                select(ChatMessage.status).where(ChatMessage.id == assistant_message_id)
            )


def _title_from(query: str) -> str:
    first_line = " ".join(query.split())
    return first_line if len(first_line) <= 80 else first_line[:79] + "…"

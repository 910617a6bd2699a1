"""One answer at a time per session: claims on sessions, across every worker sharing the
database. A claim is a compare-and-set on the session row with a deadline, so a claim left by
a process that died runs out and can be taken over."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import update

from app.core.clock import Clock
from app.core.database import Database
from app.memory.messages import ClaimResult, MessageStatus
from app.memory.models import ChatMessage, ChatSession


class SessionClaims:
    """Claims and releases sessions for one answer each."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self._database = database
        self._clock = clock

    async def claim(
        self,
        session_id: uuid.UUID,
        message_id: uuid.UUID,
        hold_for: timedelta,
        owner: str | None = None,
    ) -> ClaimResult:
        """Reserve the session for one answer, for `hold_for`: an atomic compare-and-set.

        A claim whose time has passed (its process died mid-answer) may be taken over. With
        `owner`, a session of another principal is MISSING: it must look as if it did not exist.
        """
        now = self._clock.now()
        owned = [] if owner is None else [ChatSession.principal_id == owner]
        async with self._database.session() as db:
            result = await db.execute(
                update(ChatSession)
                .where(ChatSession.id == session_id, ChatSession.free_at(now), *owned)
                .values(active_message_id=message_id, active_until=now + hold_for)
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
            session = await db.get(ChatSession, session_id)
            if session is not None and owner is not None and session.principal_id != owner:
                return ClaimResult.FOREIGN
            exists = session is not None
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

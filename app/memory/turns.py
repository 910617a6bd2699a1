"""A turn of a conversation: the question and its answer, stored when the answer starts and
written once more when it ends, exactly once."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import ParamSpec, TypeVar

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.clock import Clock
from app.core.database import Database, table_of
from app.core.errors import Conflict, StorageBusy
from app.core.names import DEFAULT_COLLECTION
from app.memory.history import ConversationHistory
from app.memory.messages import MessageRole, MessageStatus, TurnOutcome
from app.memory.models import ChatMessage, ChatSession

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")
# A locked SQLite database, a dropped PostgreSQL connection, a pool that stayed empty (the
# first and last reach us as StorageBusy): worth another try before a finished answer is
# reported as unsaved.
TRANSIENT_DATABASE_ERRORS = (StorageBusy, OperationalError, PoolTimeout, ConnectionError, OSError)
_RETRY_DELAYS_S = (0.05, 0.2, 1.0)
# The tables themselves, not the mapped classes: a turn's writes are plain rows, and Core
# statements skip the ORM's bulk-persistence layer, which cost more than the writes.
_SESSIONS = table_of(ChatSession)
_MESSAGES = table_of(ChatMessage)
# Each statement is built once, with named parameters: building one per call (its clauses,
# then its cache key) cost more than SQLAlchemy's cached compilation of it. An UPDATE without
# values sets the columns named by the parameters it is executed with.
_INSERT_SESSION = insert(_SESSIONS)
_INSERT_MESSAGES = insert(_MESSAGES)
# The session's row, while the answer `message_id` still holds it.
_HELD_SESSION = update(_SESSIONS).where(
    _SESSIONS.c.id == bindparam("session_id"),
    _SESSIONS.c.active_message_id == bindparam("message_id"),
)
_LAST_SEQ = select(func.max(_MESSAGES.c.seq)).where(
    _MESSAGES.c.session_id == bindparam("session_id")
)
# The answer's row, only while it is still streaming: it is written exactly once.
_STREAMING_ANSWER = update(_MESSAGES).where(
    _MESSAGES.c.id == bindparam("message_id"),
    _MESSAGES.c.status == MessageStatus.STREAMING,
)
_STATUS = select(_MESSAGES.c.status).where(_MESSAGES.c.id == bindparam("message_id"))


class TurnStore:
    """Begins and finishes turns; keeps each session's cached window in step (write-through:
    the database first, then the cache)."""

    def __init__(
        self,
        database: Database,
        history: ConversationHistory,
        clock: Clock,
        on_retry: Callable[[], None] | None = None,
    ) -> None:
        self._database = database
        self._history = history
        self._clock = clock
        self._on_retry = on_retry

    async def begin(
        self,
        session_id: uuid.UUID,
        assistant_message_id: uuid.UUID,
        query: str,
        hold_for: timedelta,
        collection: str = DEFAULT_COLLECTION,
        *,
        new_session: bool = False,
        owner: str = "local",
    ) -> None:
        """Store the question and a placeholder answer, creating the session on its first turn.

        A new session is created already claimed by this answer, searching `collection`; an
        existing one must still be claimed by it, and its claim now holds for `hold_for`.
        """
        now = self._clock.now()
        async with self._database.transaction() as db:
            if new_session:
                await _insert_session(
                    db,
                    id=session_id,
                    title=_title_from(query),
                    collection=collection,
                    principal_id=owner,
                    active_message_id=assistant_message_id,
                    active_until=now + hold_for,
                    created_at=now,
                    updated_at=now,
                )
                seq = 1
            else:
                # Still ours? A reservation that ran out may have been taken by another request.
                held = await db.execute(
                    _HELD_SESSION,
                    {
                        "session_id": session_id,
                        "message_id": assistant_message_id,
                        # The claim now covers the whole answer.
                        "active_until": now + hold_for,
                        "updated_at": now,
                    },
                )
                if held.rowcount != 1:
                    raise Conflict(
                        f"Session {session_id} was taken by another question before this "
                        "answer could start; ask again."
                    )
                last_seq = await db.scalar(_LAST_SEQ, {"session_id": session_id})
                seq = (last_seq or 0) + 1
            await db.execute(
                _INSERT_MESSAGES,
                [
                    {
                        "id": uuid.uuid4(),
                        "session_id": session_id,
                        "seq": seq,
                        "role": MessageRole.USER,
                        "content": query,
                        "status": MessageStatus.COMPLETE,
                        "created_at": now,
                        "completed_at": now,
                    },
                    {
                        "id": assistant_message_id,
                        "session_id": session_id,
                        "seq": seq + 1,
                        "role": MessageRole.ASSISTANT,
                        "content": "",
                        "status": MessageStatus.STREAMING,
                        "created_at": now,
                        "completed_at": None,  # Core inserts many rows with the same keys
                    },
                ],
            )
        if not new_session:
            # The cached window no longer ends where the conversation does.
            await self._history.forget(session_id)

    async def finish(
        self, session_id: uuid.UUID, assistant_message_id: uuid.UUID, outcome: TurnOutcome
    ) -> bool:
        """Write how the answer ended and free the session, exactly once.

        Only a message still streaming is updated. Returns True when this call wrote the answer
        (a commit whose acknowledgement was lost counts: the stored status tells), False when it
        had been written already; a transient database error (a lock, a lost connection, a
        pool that ran dry) is tried again before anything is reported.
        """
        try:
            return await self._retrying(self._end_turn, session_id, assistant_message_id, outcome)
        except Exception:
            # Perhaps written after all: the commit happened and only its answer was lost.
            if await self.status_of(assistant_message_id) != outcome.status:
                raise
        # The window was dropped from the cache when the transaction failed; the next read
        # rebuilds it. Freeing the session again is harmless if the commit freed it.
        await self.release(session_id, assistant_message_id)
        return True

    async def release(self, session_id: uuid.UUID, assistant_message_id: uuid.UUID) -> None:
        """Free the session if this answer still holds it (tried again on transient errors)."""
        await self._retrying(self._release, session_id, assistant_message_id)

    async def _end_turn(
        self, session_id: uuid.UUID, assistant_message_id: uuid.UUID, outcome: TurnOutcome
    ) -> bool:
        """The outcome, the session's new window and its release, in one transaction.

        One rather than three: ending a turn was the largest part of a short answer's cost.
        The window is cached before the commit, while this answer still holds the session:
        cached after the release, it could land after the next turn's newer window and
        replace it. If the transaction then fails, that window is dropped again.
        """
        try:
            async with self._database.transaction() as db:
                written = await db.execute(
                    _STREAMING_ANSWER,
                    {
                        "message_id": assistant_message_id,
                        "content": outcome.content,
                        "status": outcome.status,
                        "sources": outcome.sources,
                        "error_code": outcome.error_code,
                        "token_count": outcome.token_count,
                        "latency_ms": outcome.latency_ms,
                        "completed_at": self._clock.now(),
                    },
                )
                await self._history.cache_window_in(db, session_id)
                await db.execute(
                    _HELD_SESSION, _release_of(session_id, assistant_message_id, self._clock.now())
                )
        except BaseException:
            await self._history.forget(session_id)
            raise
        return bool(written.rowcount == 1)

    async def _release(self, session_id: uuid.UUID, assistant_message_id: uuid.UUID) -> None:
        async with self._database.transaction() as db:
            await db.execute(
                _HELD_SESSION, _release_of(session_id, assistant_message_id, self._clock.now())
            )

    async def _retrying(
        self, operation: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        for delay_s in (*_RETRY_DELAYS_S, None):
            try:
                return await operation(*args, **kwargs)
            except TRANSIENT_DATABASE_ERRORS as error:
                if delay_s is None:
                    raise
                logger.warning("Database busy (%s); trying again in %gs", error, delay_s)
                if self._on_retry is not None:
                    self._on_retry()
                await asyncio.sleep(delay_s)
        raise AssertionError("unreachable")

    async def status_of(self, assistant_message_id: uuid.UUID) -> MessageStatus | None:
        """Where a stored answer stands (None: no such message)."""
        async with self._database.read_once() as db:
            status: MessageStatus | None = await db.scalar(
                _STATUS, {"message_id": assistant_message_id}
            )
            return status


def _release_of(
    session_id: uuid.UUID, assistant_message_id: uuid.UUID, now: datetime
) -> dict[str, object]:
    """`_HELD_SESSION`'s parameters that free the session if this answer still holds it."""
    return {
        "session_id": session_id,
        "message_id": assistant_message_id,
        "active_message_id": None,
        "active_until": None,
        "updated_at": now,
    }


async def _insert_session(db: AsyncConnection, **values: object) -> None:
    try:
        await db.execute(_INSERT_SESSION, values)
    except IntegrityError:
        # Two first questions under one client-chosen id: the other one created it first.
        raise Conflict(
            f"Session {values['id']} was started by another question at the same moment; ask again."
        ) from None


def _title_from(query: str) -> str:
    first_line = " ".join(query.split())
    return first_line if len(first_line) <= 80 else first_line[:79] + "…"

"""What a conversation holds, read through the sessions repository as the history API does."""

from __future__ import annotations

import uuid

from app.core.database import Database
from app.memory.sessions import MessageRow, SessionRepository


async def stored_messages(database: Database, session_id: uuid.UUID | str) -> list[MessageRow]:
    """Every message of a session, in conversation order."""
    page = await SessionRepository(database).list_messages(
        uuid.UUID(str(session_id)), limit=10_000, offset=0
    )
    return page.items

"""A conversation store on a real SQLite database built by the migrations, on a manual clock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from app.core.clock import ManualClock
from app.core.database import Database
from app.core.migrations import upgrade_to_head
from app.core.settings import DatabaseSettings
from app.memory.cache import LruWindowCache
from app.memory.claims import SessionClaims
from app.memory.history import ConversationHistory
from app.memory.messages import ClaimResult, MessageStatus, TurnOutcome
from app.memory.turns import TurnStore

# Longer than any test takes, on the manual clock.
HOLD = timedelta(minutes=5)


@dataclass
class Store:
    """The memory classes a chat turn uses, sharing one database, cache and clock."""

    database: Database
    cache: LruWindowCache
    clock: ManualClock
    claims: SessionClaims
    history: ConversationHistory
    turns: TurnStore

    async def ask(self, session_id: uuid.UUID, answer_id: uuid.UUID, question: str) -> None:
        """A turn as the chat service takes it: claim the session (a new one is missing),
        then begin."""
        claim = await self.claims.claim(session_id, answer_id, HOLD)
        assert claim in (ClaimResult.CLAIMED, ClaimResult.MISSING)
        new = claim == ClaimResult.MISSING
        await self.turns.begin(session_id, answer_id, question, HOLD, new_session=new)


def outcome(content: str, status: MessageStatus) -> TurnOutcome:
    return TurnOutcome(
        content=content, status=status, sources=[], error_code=None, token_count=1, latency_ms=5
    )


async def open_store(path: Path) -> Store:
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(upgrade_to_head, url)
    database = Database(DatabaseSettings(url=url))
    clock = ManualClock()
    cache = LruWindowCache(max_sessions=8, ttl_s=60, clock=clock)
    history = ConversationHistory(database, cache, 10)
    return Store(
        database=database,
        cache=cache,
        clock=clock,
        claims=SessionClaims(database, clock),
        history=history,
        turns=TurnStore(database, history, clock),
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = await open_store(tmp_path / "store.db")
    yield store
    await store.database.aclose()

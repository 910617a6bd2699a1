"""The conversation store on a real SQLite database built by the migrations."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from app.core.database import Database, utcnow
from app.core.errors import Conflict
from app.core.migrations import upgrade_to_head
from app.core.settings import DatabaseSettings
from app.memory.cache import LruWindowCache
from app.memory.models import MessageRole, MessageStatus
from app.memory.store import INTERRUPTED_MARKER, ClaimResult, SqlConversationStore, TurnOutcome
from tests.support.stored import stored_messages


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    database = Database(DatabaseSettings(url=url))
    yield database
    await database.dispose()


@pytest.fixture
def store(database: Database) -> SqlConversationStore:
    return SqlConversationStore(database, LruWindowCache(max_sessions=8, ttl_s=60), 10)


LATER = utcnow() + timedelta(minutes=5)


async def _ask(
    store: SqlConversationStore, session_id: uuid.UUID, answer_id: uuid.UUID, question: str
) -> None:
    """A turn as the chat service takes it: claim the session (a new one is missing), then begin."""
    claim = await store.claim(session_id, answer_id, LATER)
    assert claim in (ClaimResult.CLAIMED, ClaimResult.MISSING)
    await store.begin_turn(session_id, answer_id, question, LATER)


def _outcome(content: str, status: MessageStatus) -> TurnOutcome:
    return TurnOutcome(
        content=content, status=status, sources=[], error_code=None, token_count=1, latency_ms=5
    )


async def test_a_turn_is_finished_exactly_once(
    store: SqlConversationStore, database: Database
) -> None:
    session_id, answer_id = uuid.uuid4(), uuid.uuid4()
    await store.begin_turn(session_id, answer_id, "Question?", LATER)
    await store.finish_turn(session_id, answer_id, _outcome("Partial", MessageStatus.INTERRUPTED))
    await store.finish_turn(session_id, answer_id, _outcome("Again", MessageStatus.COMPLETE))

    messages = await stored_messages(database, session_id)
    assert [(m.role, m.content, m.status) for m in messages] == [
        (MessageRole.USER, "Question?", MessageStatus.COMPLETE),
        (MessageRole.ASSISTANT, "Partial", MessageStatus.INTERRUPTED),
    ]
    assert await store.claim(session_id, uuid.uuid4(), LATER) == ClaimResult.CLAIMED
    assert await store.claim(uuid.uuid4(), uuid.uuid4(), LATER) == ClaimResult.MISSING


async def test_history_is_the_recent_window_with_interrupted_answers_marked(
    store: SqlConversationStore,
) -> None:
    session_id = uuid.uuid4()
    for number, status in enumerate(
        [MessageStatus.COMPLETE, MessageStatus.INTERRUPTED, MessageStatus.ERROR], start=1
    ):
        answer_id = uuid.uuid4()
        await _ask(store, session_id, answer_id, f"Q{number}")
        await store.finish_turn(session_id, answer_id, _outcome(f"A{number}", status))
    await _ask(store, session_id, uuid.uuid4(), "Q4")  # still streaming

    history = await store.history(session_id, limit=10)
    assert [(m.role.value, m.content) for m in history] == [
        ("user", "Q1"),
        ("assistant", "A1"),
        ("user", "Q2"),
        ("assistant", "A2" + INTERRUPTED_MARKER),
        ("user", "Q3"),
        ("user", "Q4"),
    ]
    recent = await store.history(session_id, limit=3)
    assert [m.content for m in recent] == ["A2" + INTERRUPTED_MARKER, "Q3", "Q4"]
    assert await store.history(session_id, limit=0) == []


async def test_a_session_holds_one_answer_at_a_time(store: SqlConversationStore) -> None:
    session_id, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert await store.claim(uuid.uuid4(), first, LATER) == ClaimResult.MISSING
    await store.begin_turn(session_id, first, "Q1", LATER)  # a new session starts claimed
    assert await store.claim(session_id, second, LATER) == ClaimResult.BUSY
    await store.finish_turn(session_id, first, _outcome("A1", MessageStatus.COMPLETE))
    assert await store.claim(session_id, second, LATER) == ClaimResult.CLAIMED
    assert await store.claim(session_id, first, LATER) == ClaimResult.BUSY
    await store.release(session_id, first)  # not the holder: changes nothing
    assert await store.claim(session_id, first, LATER) == ClaimResult.BUSY
    await store.release(session_id, second)
    assert await store.claim(session_id, first, LATER) == ClaimResult.CLAIMED


async def test_a_claim_left_by_a_dead_worker_expires(store: SqlConversationStore) -> None:
    session_id, dead, alive = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await store.begin_turn(session_id, dead, "Q1", utcnow() - timedelta(seconds=1))
    assert await store.claim(session_id, alive, LATER) == ClaimResult.CLAIMED


async def test_history_is_served_from_the_cache_and_kept_current(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cached.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    database = Database(DatabaseSettings(url=url))
    cache = LruWindowCache(max_sessions=8, ttl_s=60)
    store = SqlConversationStore(database, cache, 10)
    session_id, answer_id = uuid.uuid4(), uuid.uuid4()
    await store.begin_turn(session_id, answer_id, "Q1", LATER)
    assert await cache.get(session_id) is None  # a new turn invalidates the window
    await store.finish_turn(session_id, answer_id, _outcome("A1", MessageStatus.COMPLETE))
    cached = await cache.get(session_id)  # write-through: the finished turn is cached
    assert cached is not None
    assert [m.content for m in cached] == ["Q1", "A1"]
    await database.dispose()
    (tmp_path / "cached.db").unlink()  # the database is gone; the window comes from the cache
    assert [m.content for m in await store.history(session_id, 10)] == ["Q1", "A1"]
    await cache.invalidate(session_id)
    with pytest.raises(OperationalError):  # proof that a miss would have needed the database
        await store.history(session_id, 10)
    await database.dispose()


async def test_starting_the_answer_extends_a_short_reservation(store: SqlConversationStore) -> None:
    session_id, first, second, third = (uuid.uuid4() for _ in range(4))
    await store.begin_turn(session_id, first, "Q1", LATER)
    await store.finish_turn(session_id, first, _outcome("A1", MessageStatus.COMPLETE))
    soon = utcnow() + timedelta(seconds=0.3)
    assert await store.claim(session_id, second, soon) == ClaimResult.CLAIMED
    await store.begin_turn(session_id, second, "Q2", LATER)
    await asyncio.sleep(0.4)  # past the reservation, within the answer's claim
    assert await store.claim(session_id, third, LATER) == ClaimResult.BUSY


async def test_an_answer_whose_reservation_was_taken_cannot_start(
    store: SqlConversationStore, database: Database
) -> None:
    session_id, late, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await _ask(store, session_id, uuid.uuid4(), "Q1")
    await store.release(session_id, (await stored_messages(database, session_id))[-1].id)
    assert await store.claim(session_id, late, utcnow() - timedelta(seconds=1)) == "claimed"
    assert await store.claim(session_id, other, LATER) == ClaimResult.CLAIMED  # took it over
    with pytest.raises(Conflict):
        await store.begin_turn(session_id, late, "Q2", LATER)
    # Taking the session over marked the answer left streaming as interrupted.
    assert [m.status for m in await stored_messages(database, session_id)] == [
        MessageStatus.COMPLETE,
        MessageStatus.INTERRUPTED,
    ]

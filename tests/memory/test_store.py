"""The conversation store on a real SQLite database built by the migrations."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.memory.database import Database
from app.memory.migrations import upgrade_to_head
from app.memory.models import MessageRole, MessageStatus
from app.memory.store import INTERRUPTED_MARKER, SqlConversationStore, TurnOutcome
from app.settings import DatabaseSettings


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlConversationStore]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    database = Database(DatabaseSettings(url=url))
    yield SqlConversationStore(database)
    await database.dispose()


def _outcome(content: str, status: MessageStatus) -> TurnOutcome:
    return TurnOutcome(
        content=content, status=status, sources=[], error_code=None, token_count=1, latency_ms=5
    )


async def test_a_turn_is_finished_exactly_once(store: SqlConversationStore) -> None:
    session_id, answer_id = uuid.uuid4(), uuid.uuid4()
    await store.begin_turn(session_id, answer_id, "Question?")
    await store.finish_turn(answer_id, _outcome("Partial", MessageStatus.INTERRUPTED))
    await store.finish_turn(answer_id, _outcome("Overwritten", MessageStatus.COMPLETE))

    messages = await store.messages(session_id)
    assert [(m.role, m.content, m.status) for m in messages] == [
        (MessageRole.USER, "Question?", MessageStatus.COMPLETE),
        (MessageRole.ASSISTANT, "Partial", MessageStatus.INTERRUPTED),
    ]
    assert await store.session_exists(session_id)
    assert not await store.session_exists(uuid.uuid4())


async def test_history_is_the_recent_window_with_interrupted_answers_marked(
    store: SqlConversationStore,
) -> None:
    session_id = uuid.uuid4()
    for number, status in enumerate(
        [MessageStatus.COMPLETE, MessageStatus.INTERRUPTED, MessageStatus.ERROR], start=1
    ):
        answer_id = uuid.uuid4()
        await store.begin_turn(session_id, answer_id, f"Q{number}")
        await store.finish_turn(answer_id, _outcome(f"A{number}", status))
    await store.begin_turn(session_id, uuid.uuid4(), "Q4")  # still streaming

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

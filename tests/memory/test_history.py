"""The history a follow-up is condensed with: the recent window, from the cache or the
database."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from app.memory.messages import INTERRUPTED_MARKER, MessageStatus
from tests.memory.conftest import HOLD, Store, open_store, outcome


async def test_history_is_the_recent_window_with_interrupted_answers_marked(store: Store) -> None:
    session_id = uuid.uuid4()
    for number, status in enumerate(
        [MessageStatus.COMPLETE, MessageStatus.INTERRUPTED, MessageStatus.ERROR], start=1
    ):
        answer_id = uuid.uuid4()
        await store.ask(session_id, answer_id, f"Q{number}")
        await store.turns.finish(session_id, answer_id, outcome(f"A{number}", status))
    await store.ask(session_id, uuid.uuid4(), "Q4")  # still streaming

    history = await store.history.recent(session_id, limit=10)
    assert [(m.role.value, m.content) for m in history] == [
        ("user", "Q1"),
        ("assistant", "A1"),
        ("user", "Q2"),
        ("assistant", "A2" + INTERRUPTED_MARKER),
        ("user", "Q3"),
        ("user", "Q4"),
    ]
    recent = await store.history.recent(session_id, limit=3)
    assert [m.content for m in recent] == ["A2" + INTERRUPTED_MARKER, "Q3", "Q4"]
    assert await store.history.recent(session_id, limit=0) == []


async def test_history_is_served_from_the_cache_and_kept_current(tmp_path: Path) -> None:
    store = await open_store(tmp_path / "cached.db")
    session_id, answer_id = uuid.uuid4(), uuid.uuid4()
    await store.turns.begin(session_id, answer_id, "Q1", HOLD, new_session=True)
    assert await store.cache.get(session_id) is None  # a new turn invalidates the window
    await store.turns.finish(session_id, answer_id, outcome("A1", MessageStatus.COMPLETE))
    cached = await store.cache.get(session_id)  # write-through: the finished turn is cached
    assert cached is not None
    assert [m.content for m in cached] == ["Q1", "A1"]
    await store.database.aclose()
    (tmp_path / "cached.db").unlink()  # the database is gone; the window comes from the cache
    assert [m.content for m in await store.history.recent(session_id, 10)] == ["Q1", "A1"]
    await store.cache.invalidate(session_id)
    with pytest.raises(OperationalError):  # proof that a miss would have needed the database
        await store.history.recent(session_id, 10)
    await store.database.aclose()

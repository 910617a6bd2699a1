"""Turns are stored when an answer starts and written once more, exactly once, when it ends."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from app.core.errors import Conflict
from app.memory.messages import ClaimResult, MessageRole, MessageStatus
from tests.memory.conftest import HOLD, Store, outcome
from tests.support.stored import stored_messages


async def test_a_turn_is_finished_exactly_once(store: Store) -> None:
    session_id, answer_id = uuid.uuid4(), uuid.uuid4()
    await store.turns.begin(session_id, answer_id, "Question?", HOLD, new_session=True)
    first = await store.turns.finish(
        session_id, answer_id, outcome("Partial", MessageStatus.INTERRUPTED)
    )
    again = await store.turns.finish(
        session_id, answer_id, outcome("Again", MessageStatus.COMPLETE)
    )

    assert (first, again) == (True, False)
    messages = await stored_messages(store.database, session_id)
    assert [(m.role, m.content, m.status) for m in messages] == [
        (MessageRole.USER, "Question?", MessageStatus.COMPLETE),
        (MessageRole.ASSISTANT, "Partial", MessageStatus.INTERRUPTED),
    ]
    assert await store.turns.status_of(answer_id) == MessageStatus.INTERRUPTED
    assert await store.claims.claim(session_id, uuid.uuid4(), HOLD) == ClaimResult.CLAIMED
    assert await store.claims.claim(uuid.uuid4(), uuid.uuid4(), HOLD) == ClaimResult.MISSING


async def test_an_answer_whose_reservation_was_taken_cannot_start(store: Store) -> None:
    session_id, late, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await store.ask(session_id, uuid.uuid4(), "Q1")
    await store.claims.release(
        session_id, (await stored_messages(store.database, session_id))[-1].id
    )
    assert await store.claims.claim(session_id, late, timedelta(seconds=30)) == "claimed"
    store.clock.advance(31)  # the reservation runs out before the answer starts
    assert await store.claims.claim(session_id, other, HOLD) == ClaimResult.CLAIMED  # took it
    with pytest.raises(Conflict):
        await store.turns.begin(session_id, late, "Q2", HOLD)
    # Taking the session over marked the answer left streaming as interrupted.
    assert [m.status for m in await stored_messages(store.database, session_id)] == [
        MessageStatus.COMPLETE,
        MessageStatus.INTERRUPTED,
    ]


async def test_times_come_from_the_clock(store: Store) -> None:
    session_id, answer_id = uuid.uuid4(), uuid.uuid4()
    asked_at = store.clock.now()
    await store.turns.begin(session_id, answer_id, "Question?", HOLD, new_session=True)
    store.clock.advance(7)
    await store.turns.finish(session_id, answer_id, outcome("Answer", MessageStatus.COMPLETE))

    question, answer = await stored_messages(store.database, session_id)
    assert question.created_at == answer.created_at == asked_at
    assert answer.completed_at == asked_at + timedelta(seconds=7)

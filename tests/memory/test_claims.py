"""One answer at a time per session, across workers: claims on a real SQLite database."""

from __future__ import annotations

import uuid
from datetime import timedelta

from app.memory.messages import ClaimResult, MessageStatus
from tests.memory.conftest import HOLD, Store, outcome
from tests.support.stored import stored_messages


async def test_a_session_holds_one_answer_at_a_time(store: Store) -> None:
    session_id, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert await store.claims.claim(uuid.uuid4(), first, HOLD) == ClaimResult.MISSING
    await store.turns.begin(session_id, first, "Q1", HOLD, new_session=True)  # starts claimed
    assert await store.claims.claim(session_id, second, HOLD) == ClaimResult.BUSY
    await store.turns.finish(session_id, first, outcome("A1", MessageStatus.COMPLETE))
    assert await store.claims.claim(session_id, second, HOLD) == ClaimResult.CLAIMED
    assert await store.claims.claim(session_id, first, HOLD) == ClaimResult.BUSY
    await store.claims.release(session_id, first)  # not the holder: changes nothing
    assert await store.claims.claim(session_id, first, HOLD) == ClaimResult.BUSY
    await store.claims.release(session_id, second)
    assert await store.claims.claim(session_id, first, HOLD) == ClaimResult.CLAIMED


async def test_a_claim_left_by_a_dead_worker_expires(store: Store) -> None:
    session_id, dead, alive = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await store.turns.begin(session_id, dead, "Q1", HOLD, new_session=True)
    store.clock.advance(HOLD.total_seconds() - 1)
    assert await store.claims.claim(session_id, alive, HOLD) == ClaimResult.BUSY
    store.clock.advance(2)
    assert await store.claims.claim(session_id, alive, HOLD) == ClaimResult.CLAIMED
    # Taking the session over marked the answer the dead worker left streaming as interrupted.
    assert [m.status for m in await stored_messages(store.database, session_id)] == [
        MessageStatus.COMPLETE,
        MessageStatus.INTERRUPTED,
    ]


async def test_starting_the_answer_extends_a_short_reservation(store: Store) -> None:
    session_id, first, second, third = (uuid.uuid4() for _ in range(4))
    await store.turns.begin(session_id, first, "Q1", HOLD, new_session=True)
    await store.turns.finish(session_id, first, outcome("A1", MessageStatus.COMPLETE))
    assert await store.claims.claim(session_id, second, timedelta(seconds=30)) == "claimed"
    await store.turns.begin(session_id, second, "Q2", HOLD)
    store.clock.advance(31)  # past the reservation, within the answer's claim
    assert await store.claims.claim(session_id, third, HOLD) == ClaimResult.BUSY

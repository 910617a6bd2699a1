"""Budgets and slots behave the same in the process and in Redis; in Redis, every worker sees
the same ones, and a slot whose worker stopped renewing it comes back after its lease."""

from __future__ import annotations

import asyncio
from typing import Any

from app.admission.base import Slot, SlotRefusal
from app.admission.redis_store import RedisAdmissionStore
from app.core.clock import ManualClock
from tests.admission.conftest import NewStore
from tests.support.busy_turns import through_a_busy_turn
from tests.support.services import redis_url

LEASE_S = 15.0


def _slot(holder: str, number: int) -> Slot:
    return Slot(holder=holder, member=f"run-{holder}-{number}")


async def test_a_budget_admits_its_size_at_once_then_refills_one_at_a_time(
    new_store: NewStore, clock: ManualClock
) -> None:
    store = new_store()
    admitted = [await store.take("work:alice", 6) for _ in range(6)]
    refused = await store.take("work:alice", 6)
    other_key = await store.take("work:bob", 6)
    clock.advance(9.9)  # one request of 6 per minute refills in 10 s
    still_refused = await store.take("work:alice", 6)
    clock.advance(0.2)
    refilled = await store.take("work:alice", 6)

    assert admitted == [0.0] * 6
    assert 9.9 <= refused <= 10.0  # seconds until one is available again
    assert other_key == 0.0
    assert 0 < still_refused <= 0.11
    assert refilled == 0.0


async def test_refused_requests_do_not_spend_the_budget(
    new_store: NewStore, clock: ManualClock
) -> None:
    store = new_store()
    for _ in range(2):
        await store.take("work:alice", 2)
    for _ in range(50):  # a client hammering while refused
        assert await store.take("work:alice", 2) > 0
    clock.advance(30)

    assert await store.take("work:alice", 2) == 0.0


async def test_a_budget_of_more_than_a_request_per_millisecond(new_store: NewStore) -> None:
    store = new_store()

    assert [await store.take("work:alice", 10**9) for _ in range(3)] == [0.0] * 3


async def test_slots_per_holder_and_for_everyone(new_store: NewStore) -> None:
    store = new_store()
    limits: dict[str, Any] = {"holder_limit": 2, "global_limit": 3, "lease_s": LEASE_S}
    first = [await store.acquire(_slot("alice", n), **limits) for n in range(3)]
    bob = [await store.acquire(_slot("bob", n), **limits) for n in range(2)]
    await store.release(_slot("alice", 0))
    await store.release(_slot("alice", 0))  # twice: nothing more is given back
    after_release = [
        await store.acquire(_slot("alice", 3), **limits),
        await store.acquire(_slot("bob", 2), **limits),
    ]

    assert first == [None, None, SlotRefusal.HOLDER]
    assert bob == [None, SlotRefusal.GLOBAL]  # alice 2 + bob 1 = the deployment's 3
    assert after_release == [None, SlotRefusal.GLOBAL]


async def test_a_slot_not_renewed_comes_back_after_its_lease(
    new_store: NewStore, clock: ManualClock
) -> None:
    store = new_store()
    limits: dict[str, Any] = {"holder_limit": 1, "global_limit": 0, "lease_s": LEASE_S}
    await store.acquire(_slot("alice", 1), **limits)
    await store.acquire(_slot("alice", 2), **limits)
    clock.advance(10)
    await store.renew([_slot("alice", 2)], LEASE_S)  # not held: stays gone
    clock.advance(10)
    await store.renew([_slot("alice", 1)], LEASE_S)
    clock.advance(10)
    renewed_still_held = await store.acquire(_slot("alice", 3), **limits)
    clock.advance(LEASE_S - 10)  # its owner stopped renewing it (a worker that died)
    expired = await store.acquire(_slot("alice", 4), **limits)

    assert renewed_still_held == SlotRefusal.HOLDER
    assert expired is None


async def test_renewing_never_brings_back_a_released_slot(
    new_store: NewStore, clock: ManualClock
) -> None:
    store = new_store()
    limits: dict[str, Any] = {"holder_limit": 1, "global_limit": 1, "lease_s": LEASE_S}
    await store.acquire(_slot("alice", 1), **limits)
    await store.release(_slot("alice", 1))
    await store.renew([_slot("alice", 1)], LEASE_S)

    assert await store.acquire(_slot("bob", 1), **limits) is None


async def test_workers_asking_at_once_share_one_budget_and_one_set_of_slots(
    new_store: NewStore,
) -> None:
    workers = [new_store() for _ in range(4)]
    takes = await asyncio.gather(*(workers[n % 4].take("work:alice", 10) for n in range(40)))
    limits: dict[str, Any] = {"holder_limit": 3, "global_limit": 0, "lease_s": LEASE_S}
    acquired = await asyncio.gather(
        *(workers[n % 4].acquire(_slot("alice", n), **limits) for n in range(20))
    )

    assert sum(1 for wait in takes if wait == 0) == 10
    assert sum(1 for refused in acquired if refused is None) == 3


async def test_a_decision_redis_sent_in_time_is_taken_after_a_turn_longer_than_the_timeout(
    clock: ManualClock, redis_prefix: str
) -> None:
    # Under load one turn of the loop can outlast the timeout; the reply is in the socket by
    # then, and taking it for an outage would refuse or wave through requests for nothing.
    store = RedisAdmissionStore(redis_url(), clock=clock, prefix=redis_prefix, timeout_s=0.2)
    try:
        slot = _slot("key-a", 1)
        assert await store.take("key-a", 60) == 0  # the connection is open

        refusal = await through_a_busy_turn(
            redis_url(),
            store.acquire(slot, holder_limit=1, global_limit=0, lease_s=LEASE_S),
        )

        assert refusal is None
        # The slot was taken, once: the holder's only one is in use.
        second = await store.acquire(_slot("key-a", 2), holder_limit=1, global_limit=0, lease_s=1)
        assert second is SlotRefusal.HOLDER
    finally:
        await store.aclose()

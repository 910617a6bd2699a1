"""Each admission store, on a clock the tests move: in the process, and in Redis (database 15,
under a key prefix of the test's own, deleted afterwards)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from app.admission.base import AdmissionStore
from app.admission.local import LocalAdmissionStore
from app.admission.redis_store import RedisAdmissionStore
from app.core.clock import ManualClock
from tests.support.services import redis_url

NewStore = Callable[[], AdmissionStore]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=["local", "redis"])
async def new_store(
    request: pytest.FixtureRequest, clock: ManualClock, redis_prefix: str
) -> AsyncIterator[NewStore]:
    """Builds stores that share their state, as the workers of one deployment do (in the
    process: one store, as the one worker has)."""
    opened: list[AdmissionStore] = []
    local = LocalAdmissionStore(clock)

    def new() -> AdmissionStore:
        if request.param == "local":
            return local
        store = RedisAdmissionStore(redis_url(), clock=clock, prefix=redis_prefix, timeout_s=2)
        opened.append(store)
        return store

    yield new
    for store in opened:
        await store.aclose()

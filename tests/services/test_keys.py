"""Key lookups are cached briefly: no database round trip per request, revocation within TTL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.core.clock import ManualClock
from app.core.database import Database
from app.core.migrations import upgrade_to_head
from app.core.settings import DatabaseSettings
from app.identity.keys import KeyStore
from app.services.keys import KeyService

TTL_S = 10.0


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[KeyStore]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    database = Database(DatabaseSettings(url=url))
    yield KeyStore(database, ManualClock())
    await database.aclose()


async def test_a_revocation_elsewhere_counts_once_the_cache_entry_expires(
    store: KeyStore,
) -> None:
    clock = ManualClock()
    service = KeyService(store=store, clock=clock, cache_ttl_s=TTL_S)
    row, key = await service.create("alice")
    principal = await service.principal_for_key(key)
    assert principal is not None
    assert (principal.id, principal.name, principal.admin) == (row.id, "alice", False)

    await store.revoke("alice")  # another process (the CLI) revokes it
    clock.advance(TTL_S - 1)
    assert await service.principal_for_key(key) == principal  # served from the cache
    clock.advance(2)
    assert await service.principal_for_key(key) is None
    assert await service.principal_by_id(row.id) is None


async def test_a_revocation_through_the_service_counts_at_once(store: KeyStore) -> None:
    service = KeyService(store=store, clock=ManualClock(), cache_ttl_s=TTL_S)
    assert not await service.any_active()
    _, key = await service.create("alice", admin=True)
    assert await service.any_active()  # "no key yet" was not kept past the creation
    found = await service.principal_for_key(key)
    assert found is not None
    assert found.admin
    await service.revoke("alice")
    assert await service.principal_for_key(key) is None
    assert not await service.any_active()

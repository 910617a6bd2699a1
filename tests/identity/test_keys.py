"""The key store: only digests are kept, names are unique, revocation is recorded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from app.core.clock import ManualClock
from app.core.database import Database
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.migrations import upgrade_to_head
from app.core.settings import DatabaseSettings
from app.identity.keys import KeyStore, digest_of
from app.identity.models import ApiKey


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    database = Database(DatabaseSettings(url=url))
    yield database
    await database.aclose()


async def test_a_key_is_stored_only_as_its_digest(database: Database) -> None:
    store = KeyStore(database, ManualClock())
    row, key = await store.create("alice")
    async with database.reading() as db:
        stored = await db.scalar(select(ApiKey).where(ApiKey.id == row.id))
    assert stored is not None
    assert stored.digest == digest_of(key) != key
    assert key not in {stored.digest, stored.prefix, stored.name, stored.id}
    assert key.startswith(stored.prefix)
    assert (await store.find_active_by_digest(digest_of(key))) == row
    assert await store.find_active_by_digest(digest_of(key + "x")) is None


async def test_names_are_unique_and_revocation_is_kept(database: Database) -> None:
    clock = ManualClock()
    store = KeyStore(database, clock)
    row, key = await store.create("alice", admin=True)
    with pytest.raises(Conflict):
        await store.create("alice")
    with pytest.raises(InvalidInput):
        await store.create("   ")
    assert await store.active_count() == 1
    revoked = await store.revoke(row.id)  # by id, or by name
    assert revoked.revoked_at == clock.now()
    assert await store.find_active_by_digest(digest_of(key)) is None
    assert await store.active_count() == 0
    assert [k.name for k in await store.list_keys()] == ["alice"]
    with pytest.raises(NotFound):
        await store.revoke("bob")

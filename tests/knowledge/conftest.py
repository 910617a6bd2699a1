"""The knowledge base's classes over a migrated SQLite file, then a PostgreSQL database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.core.database import Database
from app.core.migrations import upgrade_to_head
from app.core.settings import DatabaseSettings
from tests.support.knowledge import KnowledgeBase


@pytest.fixture
async def knowledge(database_url: str) -> AsyncIterator[KnowledgeBase]:
    await asyncio.to_thread(upgrade_to_head, database_url)
    database = Database(DatabaseSettings(url=database_url))
    yield KnowledgeBase.over(database)
    await database.dispose()

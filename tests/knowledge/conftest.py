"""The knowledge base's classes over a migrated SQLite file, then a PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.knowledge import KnowledgeBase, knowledge_base


@pytest.fixture
async def knowledge(database_url: str) -> AsyncIterator[KnowledgeBase]:
    async with knowledge_base(database_url) as knowledge:
        yield knowledge

"""Shared fixtures: settings on a temporary data directory with a small ingested corpus."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from app.retrieval.knowledge_base import KnowledgeBase
from app.settings import ChatSettings, LLMSettings, Settings
from tests.support.corpus import write_corpus
from tests.support.services import fresh_postgres_database

MakeSettings = Callable[..., Settings]


@pytest.fixture
def make_settings(tmp_path: Path) -> MakeSettings:
    """Settings over a fresh SQLite file and an index of the test corpus; fake LLM by default."""
    data_dir = tmp_path / "data"
    ingested = False

    def make(llm: dict[str, Any] | None = None, chat: dict[str, Any] | None = None) -> Settings:
        nonlocal ingested
        settings = Settings(
            _env_file=None,
            data_dir=data_dir,
            llm=LLMSettings(**{"provider": "fake", "fake_delay_ms": 0, **(llm or {})}),
            chat=ChatSettings(**(chat or {})),
        )
        if not ingested:
            KnowledgeBase(settings.index_dir, settings.retrieval).ingest(
                [write_corpus(tmp_path / "docs")]
            )
            ingested = True
        return settings

    return make


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database (dropped afterwards)."""
    async for url in fresh_postgres_database():
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each database Citestream supports: an SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'conversations.db'}"
        return
    async for url in fresh_postgres_database():
        yield url

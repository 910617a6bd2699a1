"""Shared fixtures: settings on a temporary data directory with a small ingested corpus."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from app.core.settings import ChatSettings, LLMSettings, Settings
from tests.support.corpus import write_corpus
from tests.support.knowledge import ingest_paths_now
from tests.support.services import fresh_postgres_database, redis_url

MakeSettings = Callable[..., Settings]


@pytest.fixture
def make_settings(tmp_path: Path) -> MakeSettings:
    """Settings over a fresh SQLite file (or `database_url`) holding the test corpus, ingested
    once per database; the fake LLM by default. Other sections are passed as dicts."""
    data_dir = tmp_path / "data"
    ingested: set[str] = set()

    def make(
        llm: dict[str, Any] | None = None,
        chat: dict[str, Any] | None = None,
        database_url: str | None = None,
        **sections: dict[str, Any],
    ) -> Settings:
        fields: dict[str, Any] = {
            "data_dir": data_dir,
            "llm": LLMSettings(**{"provider": "fake", "fake_delay_ms": 0, **(llm or {})}),
            "chat": ChatSettings(**(chat or {})),
            **sections,
        }
        if database_url:
            fields["database"] = {"url": database_url}
        settings = Settings(_env_file=None, **fields)
        if settings.database.url not in ingested:
            ingest_paths_now(settings, [write_corpus(tmp_path / "docs")])
            ingested.add(settings.database.url)
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


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own in the test Redis; its keys are deleted afterwards."""
    prefix = f"test-admission-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = Redis.from_url(redis_url())
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()

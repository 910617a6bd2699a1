"""What authenticating a request costs: a cached key lookup against one that reads the database.
Prints numbers.

Each request's key is looked up through `AuthService.authenticate`, as `current_principal` does:
with the default cache (a lookup served from memory, no query) and with the cache off
(`CITESTREAM_AUTH__KEY_CACHE_TTL_S=0`: two queries, "any active key" and the key's digest, each
in its own read transaction).
SQLite in a temporary folder.

Usage: `uv run python -m bench.auth --requests 20000`.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

from app.container import Container
from app.core.settings import LLMSettings, Settings
from app.lifecycle import AppLifecycle
from app.services.auth import Credentials


async def _per_request(data_dir: Path, cache_ttl_s: float, requests: int) -> tuple[float, int]:
    """Microseconds per authenticated request, and the queries they made in all."""
    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        llm=LLMSettings(provider="fake"),
        auth={"key_cache_ttl_s": cache_ttl_s},
    )
    container = Container(settings=settings)
    async with AppLifecycle(container) as lifecycle:
        await lifecycle.open_storage()
        keys = container.key_service()
        existing = await keys.list_keys()
        key = (await keys.create(f"bench-{len(existing)}"))[1]
        auth = container.auth_service()
        credentials = Credentials(method="GET", bearer=key)
        await auth.authenticate(credentials)  # the first lookup fills the cache
        queries = 0

        def count(*_: Any) -> None:
            nonlocal queries
            queries += 1

        event.listen(container.database().engine.sync_engine, "before_cursor_execute", count)
        started = time.perf_counter()
        for _ in range(requests):
            await auth.authenticate(credentials)
        elapsed = time.perf_counter() - started
    return elapsed / requests * 1e6, queries


async def main(requests: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        cached, cached_queries = await _per_request(data_dir, 10.0, requests)
        uncached, uncached_queries = await _per_request(data_dir, 0.0, max(1, requests // 40))
    print(f"cached key lookup:   {cached:8.1f} µs/request, {cached_queries} SQL statements")
    print(
        f"uncached (SQLite):   {uncached:8.1f} µs/request, "
        f"{uncached_queries / max(1, requests // 40):.0f} SQL statements per request"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20_000)
    asyncio.run(main(parser.parse_args().requests))

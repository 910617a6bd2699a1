"""The cache of each session's recent conversation window, in front of the conversation store.

The store writes through it (database first, then the new window here) and reads it before the
database. A cache failure never fails a request: the store just falls back to the database.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import Protocol

from app.core.clock import Clock
from app.core.metrics import Metrics
from app.core.settings import RedisSettings
from app.memory.messages import HistoryMessage


class WindowCache(Protocol):
    """Port for the recent-window cache. `get` returns None on a miss; no method raises."""

    async def get(self, session_id: uuid.UUID) -> list[HistoryMessage] | None: ...

    async def put(self, session_id: uuid.UUID, window: list[HistoryMessage]) -> None: ...

    async def invalidate(self, session_id: uuid.UUID) -> None: ...

    async def aclose(self) -> None: ...


class LruWindowCache:
    """In-process LRU with per-entry expiry: the cache of a single process without Redis."""

    def __init__(self, max_sessions: int, ttl_s: float, clock: Clock) -> None:
        self._max_sessions = max_sessions
        self._ttl_s = ttl_s
        self._clock = clock
        # session -> (monotonic deadline, window), least recently used first.
        self._entries: OrderedDict[uuid.UUID, tuple[float, list[HistoryMessage]]] = OrderedDict()

    async def get(self, session_id: uuid.UUID) -> list[HistoryMessage] | None:
        entry = self._entries.get(session_id)
        if entry is None:
            return None
        deadline, window = entry
        if self._clock.monotonic() >= deadline:
            del self._entries[session_id]
            return None
        self._entries.move_to_end(session_id)
        return list(window)

    async def put(self, session_id: uuid.UUID, window: list[HistoryMessage]) -> None:
        self._entries[session_id] = (self._clock.monotonic() + self._ttl_s, list(window))
        self._entries.move_to_end(session_id)
        while len(self._entries) > self._max_sessions:
            self._entries.popitem(last=False)

    async def invalidate(self, session_id: uuid.UUID) -> None:
        self._entries.pop(session_id, None)

    async def aclose(self) -> None:
        self._entries.clear()


def build_window_cache(settings: RedisSettings, metrics: Metrics, clock: Clock) -> WindowCache:
    """Redis when a URL is configured, otherwise the in-process LRU."""
    if settings.url:
        # Imported here: the Redis client is only loaded when it is configured.
        from app.memory.redis_cache import RedisWindowCache

        return RedisWindowCache(
            settings.url,
            settings.ttl_s,
            settings.timeout_s,
            settings.retry_after_s,
            metrics,
            clock,
        )
    return LruWindowCache(settings.lru_sessions, settings.ttl_s, clock)

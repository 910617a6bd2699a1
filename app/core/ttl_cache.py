"""A small in-process cache whose entries expire, and whose misses are shared.

Shared misses matter under load: a few hundred questions that arrive together all miss an
empty or just-expired entry at once, and each asking the database for the same value put
hundreds of identical queries in front of the first answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from app.core.clock import Clock

V = TypeVar("V")

# Enough for every key a deployment has many times over; a flood of made-up keys cannot grow
# the cache past it.
_MAX_ENTRIES = 10_000


class TtlCache(Generic[V]):
    """Values by key for `ttl_s` (read on the injected clock); bounded, cleared wholesale when
    full. A `ttl_s` of 0 caches nothing (but concurrent misses are still shared)."""

    def __init__(self, clock: Clock, ttl_s: float) -> None:
        self._clock = clock
        self._ttl_s = ttl_s
        self._entries: dict[str, tuple[float, V]] = {}
        self._loading: dict[str, asyncio.Future[V]] = {}
        # Bumped by `clear`: a load that began before it is not stored after it.
        self._epoch = 0

    async def get_or_load(self, key: str, load: Callable[[], Awaitable[V]]) -> V:
        """The cached value, or `load()`'s; callers that miss together share one `load()`."""
        entry = self._entries.get(key)
        if entry is not None and entry[0] > self._clock.monotonic():
            return entry[1]
        loading = self._loading.get(key)
        if loading is None:
            loading = asyncio.ensure_future(self._load(key, load, self._epoch))
            self._loading[key] = loading
        # Shielded: a caller that is cancelled (its client left) does not cancel the others'.
        return await asyncio.shield(loading)

    def clear(self) -> None:
        """Forget everything, including what is being loaded now."""
        self._entries.clear()
        self._loading.clear()
        self._epoch += 1

    async def _load(self, key: str, load: Callable[[], Awaitable[V]], epoch: int) -> V:
        try:
            value = await load()
        finally:
            if self._epoch == epoch:
                self._loading.pop(key, None)
        if self._epoch == epoch and self._ttl_s > 0:
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (self._clock.monotonic() + self._ttl_s, value)
        return value

"""The window cache in Redis, shared by every worker, with a circuit breaker for outages."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.core.busy_timeouts import within
from app.core.clock import Clock
from app.core.metrics import Metrics
from app.core.redis_clients import REDIS_UNAVAILABLE, redis_client
from app.memory.messages import HistoryMessage, MessageRole

logger = logging.getLogger(__name__)


class RedisWindowCache:
    """Windows in Redis, shared by every instance; survives Redis outages without raising.

    After a failure Redis is left alone for `retry_after_s` (a circuit breaker, so an outage does
    not add a timeout to every request), then tried again. Each call is limited as a whole by
    `within`, not by redis-py's socket timeouts: under load one turn of this process's loop can
    outlast the timeout, and a socket timeout then takes a reply already in the socket for a
    Redis that stopped answering, which trips the breaker for nothing.

    Staleness: while Redis is unreachable, writes are skipped, so a window cached before the
    outage may be out of date when Redis comes back (the same holds for a failed `invalidate`, or
    a Redis restored from an old snapshot). Every value is therefore tagged with an *epoch*, a
    counter kept in Redis, and `get` serves a window only if its tag equals the current epoch; on
    recovery the instance that saw the outage bumps the epoch (INCR) before using Redis again,
    which discards everything written earlier in O(1). Old values simply expire with their TTL.
    The epoch sits in the value rather than in the key prefix because `get` reads it with the
    window in one atomic MGET: other instances therefore see a bump on their next read, where a
    prefix each instance remembered would keep them reading the old keys. A write from before the
    outage that reaches Redis late still carries the old tag, so it is never served either.
    """

    def __init__(
        self,
        url: str,
        ttl_s: int,
        timeout_s: float,
        retry_after_s: float,
        metrics: Metrics,
        clock: Clock,
        *,
        prefix: str = "citestream:window",
    ) -> None:
        self._client = redis_client(
            url,
            # Limits are on each call as a whole: see `within` and the class's docstring.
            socket_timeout=None,
            socket_connect_timeout=None,
            # No retries: the circuit breaker decides when Redis is tried again.
            retry=Retry(NoBackoff(), 0),
        )
        self._timeout_s = timeout_s
        self._ttl_s = ttl_s
        self._retry_after_s = retry_after_s
        self._metrics = metrics
        self._clock = clock
        self._prefix = prefix
        self._epoch_key = f"{prefix}:epoch"
        self._epoch: int | None = None  # last epoch seen; None until first read from Redis
        # True from the first failure until the epoch has been bumped: the outage in progress.
        self._outage = False
        self._retry_at = 0.0  # monotonic time before which Redis is not touched
        self._recovery = asyncio.Lock()

    async def get(self, session_id: uuid.UUID) -> list[HistoryMessage] | None:
        if not await self._available():
            self._count_error(read=True)
            return None
        try:
            epoch, value = await within(
                self._timeout_s, self._client.mget(self._epoch_key, self._key(session_id))
            )
        except REDIS_UNAVAILABLE as exc:
            self._fail(exc)
            self._count_error(read=True)
            return None
        self._epoch = int(epoch or 0)
        window = _decode(value, self._epoch)
        self._metrics.cache_requests.labels(result="miss" if window is None else "hit").inc()
        return window

    async def put(self, session_id: uuid.UUID, window: list[HistoryMessage]) -> None:
        if not await self._available():
            self._count_error()
            return
        try:
            if self._epoch is None:
                epoch = await within(self._timeout_s, self._client.get(self._epoch_key))
                self._epoch = int(epoch or 0)
            # Tagged with the epoch this instance knows: if another instance has bumped it since,
            # the value just reads as a miss until this instance's next get learns the new one.
            messages = [{"role": m.role.value, "content": m.content} for m in window]
            value = json.dumps({"epoch": self._epoch, "messages": messages})
            await within(
                self._timeout_s, self._client.set(self._key(session_id), value, ex=self._ttl_s)
            )
        except REDIS_UNAVAILABLE as exc:
            self._fail(exc)
            self._count_error()

    async def invalidate(self, session_id: uuid.UUID) -> None:
        if not await self._available():
            self._count_error()
            return
        try:
            await within(self._timeout_s, self._client.delete(self._key(session_id)))
        except REDIS_UNAVAILABLE as exc:
            self._fail(exc)
            self._count_error()

    async def aclose(self) -> None:
        await self._client.aclose()

    def _key(self, session_id: uuid.UUID) -> str:
        return f"{self._prefix}:{session_id}"

    async def _available(self) -> bool:
        """Whether Redis may be used now; ends an outage (bumping the epoch) when it can."""
        if not self._outage:
            return True
        if self._clock.monotonic() < self._retry_at:
            return False
        # One coroutine probes; the others wait for its verdict instead of piling on.
        async with self._recovery:
            if not self._outage:
                return True
            if self._clock.monotonic() < self._retry_at:
                return False
            try:
                self._epoch = await within(self._timeout_s, self._client.incr(self._epoch_key))
            except REDIS_UNAVAILABLE as exc:
                self._fail(exc)
                return False
            self._outage = False
            logger.info("Redis cache is reachable again; windows cached before the outage dropped")
            return True

    def _fail(self, exc: Exception) -> None:
        self._retry_at = self._clock.monotonic() + self._retry_after_s
        if not self._outage:
            self._outage = True
            logger.warning(
                "Redis cache unreachable (%s: %s); using the database, retrying every %ss",
                type(exc).__name__,
                exc,
                self._retry_after_s,
            )

    def _count_error(self, *, read: bool = False) -> None:
        self._metrics.cache_errors.inc()
        if read:
            self._metrics.cache_requests.labels(result="error").inc()


def _decode(value: bytes | str | None, epoch: int) -> list[HistoryMessage] | None:
    """A cached window, or None when absent, written before an outage, or unreadable."""
    if value is None:
        return None
    try:
        entry = json.loads(value)
        if entry["epoch"] != epoch:  # written before an outage: possibly stale
            return None
        return [
            HistoryMessage(role=MessageRole(m["role"]), content=m["content"])
            for m in entry["messages"]
        ]
    except (ValueError, KeyError, TypeError):  # another format or version: a miss, not a 500
        return None

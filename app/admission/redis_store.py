"""Budgets and slots in Redis, shared by every worker: one Lua script per decision, so two
workers asking at once never both get the last token or slot.

- A budget is one key holding its GCRA theoretical arrival time, expiring once it has refilled.
- Slots are sorted sets of members scored by their lease's expiry: one per holder (a key) and
  one for the deployment. Expired members are dropped before counting, so a slot whose worker
  died (and stopped renewing it) comes back after at most one lease.

Times are the injected clock's wall time (workers share it through NTP; a skew of a few
milliseconds against leases of seconds does not matter), so tests move time instead of sleeping.
Keys share the hash tag `{admission}`, so the scripts also run on Redis Cluster.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable
from typing import TypeVar

from app.admission.base import Slot, SlotRefusal, StoreUnavailable
from app.core.busy_timeouts import within
from app.core.clock import Clock
from app.core.redis_clients import REDIS_UNAVAILABLE, redis_client

_TAKE = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat + interval - 60 - now
if wait > 0 then return math.ceil(wait * 1000) end
local ttl_ms = math.max(1, math.ceil((tat + interval - now) * 1000))
redis.call('SET', KEYS[1], tostring(tat + interval), 'PX', ttl_ms)
return 0
"""

_ACQUIRE = """
local now = ARGV[1]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local holder_limit = tonumber(ARGV[4])
local global_limit = tonumber(ARGV[5])
if holder_limit > 0 and redis.call('ZCARD', KEYS[1]) >= holder_limit then return 1 end
if global_limit > 0 and redis.call('ZCARD', KEYS[2]) >= global_limit then return 2 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return 0
"""


T = TypeVar("T")


class RedisAdmissionStore:
    """The AdmissionStore every worker sharing `url` sees."""

    def __init__(self, url: str, *, clock: Clock, prefix: str, timeout_s: float) -> None:
        # A short limit, since an admission check is on every request's path, on each call as a
        # whole (`_call`), not on the socket: under load one turn of this process's loop can
        # outlast it, and a socket timeout then takes a reply already in the socket for a Redis
        # that stopped answering, refusing or waving through requests for nothing.
        self._client = redis_client(url, socket_timeout=None, socket_connect_timeout=None)
        self._timeout_s = timeout_s
        self._clock = clock
        self._prefix = f"{prefix}:{{admission}}"
        self._take = self._client.register_script(_TAKE)
        self._acquire = self._client.register_script(_ACQUIRE)

    def _bucket_key(self, bucket: str) -> str:
        return f"{self._prefix}:budget:{bucket}"

    def _holder_key(self, holder: str) -> str:
        return f"{self._prefix}:slots:{holder}"

    @property
    def _all_key(self) -> str:
        return f"{self._prefix}:slots"

    def _now(self) -> float:
        return self._clock.now().timestamp()

    async def _call(self, command: Awaitable[T]) -> T:
        """`command`'s reply within the store's timeout, or StoreUnavailable."""
        try:
            return await within(self._timeout_s, command)
        except REDIS_UNAVAILABLE as error:
            raise StoreUnavailable(str(error) or "Redis did not answer in time") from error

    async def take(self, bucket: str, per_minute: int) -> float:
        args = [repr(self._now()), repr(60.0 / per_minute)]
        wait_ms = await self._call(self._take(keys=[self._bucket_key(bucket)], args=args))
        return int(wait_ms) / 1000

    async def acquire(
        self, slot: Slot, *, holder_limit: int, global_limit: int, lease_s: float
    ) -> SlotRefusal | None:
        now = self._now()
        keys = [self._holder_key(slot.holder), self._all_key]
        args: list[str | int] = [
            repr(now),
            repr(now + lease_s),
            slot.member,
            holder_limit,
            global_limit,
            math.ceil(lease_s * 1000),
        ]
        refused = int(await self._call(self._acquire(keys=keys, args=args)))
        return {0: None, 1: SlotRefusal.HOLDER, 2: SlotRefusal.GLOBAL}[refused]

    async def renew(self, slots: list[Slot], lease_s: float) -> None:
        if not slots:
            return
        expiry = self._now() + lease_s
        lease_ms = math.ceil(lease_s * 1000)
        pipe = self._client.pipeline(transaction=False)
        for slot in slots:
            # XX: a slot released meanwhile (maybe on another connection) is not brought back.
            pipe.zadd(self._holder_key(slot.holder), {slot.member: expiry}, xx=True)
            pipe.pexpire(self._holder_key(slot.holder), lease_ms)
            pipe.zadd(self._all_key, {slot.member: expiry}, xx=True)
        pipe.pexpire(self._all_key, lease_ms)
        await self._call(pipe.execute())

    async def release(self, slot: Slot) -> None:
        pipe = self._client.pipeline(transaction=True)
        pipe.zrem(self._holder_key(slot.holder), slot.member)
        pipe.zrem(self._all_key, slot.member)
        await self._call(pipe.execute())

    async def aclose(self) -> None:
        await self._client.aclose()

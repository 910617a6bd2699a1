"""Budgets and slots in this process: enough for one worker, and what every worker falls back on
while Redis cannot answer."""

from __future__ import annotations

from app.admission.base import Slot, SlotRefusal
from app.core.clock import Clock

# Past this many buckets, the ones that have refilled completely are dropped.
_PRUNE_AT = 10_000


class LocalAdmissionStore:
    """GCRA budgets and leased slots in dictionaries, on the injected clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        # Per bucket: the theoretical arrival time of the next request (GCRA), monotonic seconds.
        self._tats: dict[str, float] = {}
        # Per holder, and for the whole process: member -> lease expiry, monotonic seconds.
        self._held: dict[str, dict[str, float]] = {}
        self._all: dict[str, float] = {}

    async def take(self, bucket: str, per_minute: int) -> float:
        now = self._clock.monotonic()
        interval = 60.0 / per_minute
        tat = max(self._tats.get(bucket, now), now)
        wait = tat + interval - 60.0 - now
        if wait > 0:
            return wait
        self._tats[bucket] = tat + interval
        if len(self._tats) > _PRUNE_AT:
            self._tats = {name: t for name, t in self._tats.items() if t > now}
        return 0.0

    async def acquire(
        self, slot: Slot, *, holder_limit: int, global_limit: int, lease_s: float
    ) -> SlotRefusal | None:
        now = self._clock.monotonic()
        held = _unexpired(self._held.get(slot.holder, {}), now)
        self._all = _unexpired(self._all, now)
        if holder_limit and len(held) >= holder_limit:
            return SlotRefusal.HOLDER
        if global_limit and len(self._all) >= global_limit:
            return SlotRefusal.GLOBAL
        held[slot.member] = self._all[slot.member] = now + lease_s
        self._held[slot.holder] = held
        return None

    async def renew(self, slots: list[Slot], lease_s: float) -> None:
        expiry = self._clock.monotonic() + lease_s
        for slot in slots:
            held = self._held.get(slot.holder, {})
            if slot.member in held:
                held[slot.member] = expiry
            if slot.member in self._all:
                self._all[slot.member] = expiry

    async def release(self, slot: Slot) -> None:
        held = self._held.get(slot.holder, {})
        held.pop(slot.member, None)
        if not held:
            self._held.pop(slot.holder, None)
        self._all.pop(slot.member, None)

    async def aclose(self) -> None:
        return None


def _unexpired(leases: dict[str, float], now: float) -> dict[str, float]:
    return {member: expiry for member, expiry in leases.items() if expiry > now}

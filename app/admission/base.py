"""What the admission service asks of a store of budgets and slots, wherever it keeps them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class SlotRefusal(StrEnum):
    """Why a run got no slot."""

    HOLDER = "holder"  # its key already holds as many runs as it may
    GLOBAL = "global"  # the deployment runs as many as it may


@dataclass(frozen=True, slots=True)
class Slot:
    """A run's place among its key's runs and the deployment's: `member` in `holder`'s set."""

    holder: str
    member: str


class StoreUnavailable(Exception):
    """The store could not answer (Redis unreachable or too slow)."""


class AdmissionStore(Protocol):
    """Budgets that refill over time, and slots held under a lease until released or expired.

    Every call is atomic: two workers asking at once never both get the last slot or token.
    Raises StoreUnavailable when it cannot answer.
    """

    async def take(self, bucket: str, per_minute: int) -> float:
        """Spend one request of `bucket`'s budget of `per_minute` (refilled continuously):
        0 when admitted, else the seconds until one is available again."""
        ...

    async def acquire(
        self, slot: Slot, *, holder_limit: int, global_limit: int, lease_s: float
    ) -> SlotRefusal | None:
        """Hold `slot` for `lease_s` unless its holder or the deployment is at its limit
        (0: none). None when held."""
        ...

    async def renew(self, slots: list[Slot], lease_s: float) -> None:
        """Extend the leases of slots still held (a released or expired one stays gone)."""
        ...

    async def release(self, slot: Slot) -> None:
        """Give the slot back (nothing happens if it is already gone)."""
        ...

    async def aclose(self) -> None: ...

"""Admission control: how much one key, and the whole deployment, may ask for at once.

Per key: a budget of work-starting requests per minute (chat, runs, uploads), a looser one for
every API request, and a number of runs executing at once. For the deployment: a number of runs
executing at once (generations). A request over a limit is refused before anything starts (429
for a key's limits, 503 for the deployment's), with Retry-After.

With Redis, the limits hold across every worker. When Redis cannot answer, each worker enforces
them in its own process until it can (fail open to per-worker limits, never closed): a Redis
outage must not become an outage of the service, and the per-worker limits still bound what one
key can do (at most workers x limit). Each such fallback is counted on /metrics.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

from app.admission.base import AdmissionStore, Slot, SlotRefusal, StoreUnavailable
from app.admission.local import LocalAdmissionStore
from app.core.clock import Clock
from app.core.errors import ServiceUnavailable, TooManyRequests
from app.core.metrics import Metrics
from app.core.principals import LOCAL_PRINCIPAL, Principal
from app.core.settings import AdmissionSettings, Settings

logger = logging.getLogger(__name__)

# Seconds a refused run should wait: its key's own runs end within seconds to minutes...
TOO_MANY_RUNS_RETRY_S = 2.0
# ...and a deployment at its cap needs a longer breath (and fewer retries at once).
OVERLOADED_RETRY_S = 5.0

# The deployment-wide cap when the settings leave it unset: llama.cpp answers one question at a
# time per worker, so more than a few waiting runs is minutes of queue; a remote server batches.
GENERATIONS_BY_PROVIDER = {"llamacpp": 8, "openai": 64, "fake": 0}


@dataclass
class RunSlot:
    """A run's admission: given back exactly once when the run ends."""

    slot: Slot
    store: AdmissionStore
    released: bool = False


class AdmissionControl:
    """Admits requests and runs, or refuses them with 429/503 and Retry-After."""

    def __init__(
        self,
        *,
        settings: AdmissionSettings,
        generations: int,
        shared: AdmissionStore | None,
        local: AdmissionStore,
        metrics: Metrics,
        clock: Clock,
        retry_shared_after_s: float = 2.0,
    ) -> None:
        self._settings = settings
        self._generations = generations
        self._shared = shared
        self._local = local
        self._metrics = metrics
        self._clock = clock
        self._retry_shared_after_s = retry_shared_after_s
        self._shared_down_until = float("-inf")  # the clock's monotonic time
        self._held: dict[str, RunSlot] = {}
        self._renewing: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Start renewing the leases of this worker's runs."""
        self._renewing = asyncio.create_task(self._renew_forever())

    async def aclose(self) -> None:
        if self._renewing is not None:
            self._renewing.cancel()
            await asyncio.gather(self._renewing, return_exceptions=True)
        if self._shared is not None:
            await self._shared.aclose()

    # -- rates -----------------------------------------------------------------------------------

    async def admit_request(self, principal: Principal) -> None:
        """Any API request: spend one of the key's requests per minute, or 429 `rate_limited`."""
        await self._spend(principal, "request", self._settings.requests_per_minute)

    async def admit_work(self, principal: Principal) -> None:
        """A request that starts work (a run, an upload): one of the key's work requests per
        minute, or 429 `rate_limited`."""
        await self._spend(principal, "work", self._settings.work_per_minute)

    async def _spend(self, principal: Principal, kind: str, per_minute: int) -> None:
        if not per_minute or not self._limits_key(principal):
            return
        bucket = f"{kind}:{principal.id}"
        try:
            wait_s = await self._store().take(bucket, per_minute)
        except StoreUnavailable as error:
            self._shared_failed(error)
            wait_s = await self._local.take(bucket, per_minute)
        if wait_s > 0:
            self._metrics.admission_rejections.labels(reason=f"{kind}_rate").inc()
            raise TooManyRequests(
                f"This key sent more than {per_minute} "
                f"{'requests that start work' if kind == 'work' else 'requests'} in a minute; "
                "wait for Retry-After seconds.",
                code="rate_limited",
                retry_after_s=wait_s,
            )

    # -- run slots -------------------------------------------------------------------------------

    async def hold_run(self, principal: Principal, run_id: uuid.UUID) -> RunSlot:
        """A slot for a new run among the key's runs and the deployment's, or 429
        `too_many_runs` / 503 `overloaded`. Give it back with `release`."""
        slot = Slot(holder=principal.id, member=str(run_id))
        holder_limit = self._settings.concurrent_runs if self._limits_key(principal) else 0
        # With no limit to enforce, Redis has nothing to count: keep the slot in the process.
        store = self._store() if holder_limit or self._generations else self._local
        try:
            refused = await self._acquire(store, slot, holder_limit)
        except StoreUnavailable as error:
            self._shared_failed(error)
            store = self._local
            refused = await self._acquire(store, slot, holder_limit)
        if refused is SlotRefusal.HOLDER:
            self._metrics.admission_rejections.labels(reason="concurrent_runs").inc()
            raise TooManyRequests(
                f"This key already has {self._settings.concurrent_runs} answers running; wait "
                "for one to end (or cancel one) and ask again.",
                code="too_many_runs",
                retry_after_s=TOO_MANY_RUNS_RETRY_S,
            )
        if refused is SlotRefusal.GLOBAL:
            self._metrics.admission_rejections.labels(reason="generations").inc()
            raise ServiceUnavailable(
                "The server is answering as many questions as it can; ask again shortly.",
                code="overloaded",
                retry_after_s=OVERLOADED_RETRY_S,
            )
        held = RunSlot(slot, store)
        self._held[slot.member] = held
        return held

    async def _acquire(
        self, store: AdmissionStore, slot: Slot, holder_limit: int
    ) -> SlotRefusal | None:
        return await store.acquire(
            slot,
            holder_limit=holder_limit,
            global_limit=self._generations,
            lease_s=self._settings.lease_s,
        )

    async def release(self, held: RunSlot) -> None:
        """Give a run's slot back; only the first call for a slot does anything."""
        if held.released:
            return
        held.released = True
        self._held.pop(held.slot.member, None)
        try:
            await held.store.release(held.slot)
        except StoreUnavailable as error:
            # Its lease is no longer renewed: the slot comes back when it expires.
            self._shared_failed(error)

    async def release_run(self, run_id: uuid.UUID) -> None:
        """Give back the slot of run `run_id`, if this worker holds it."""
        held = self._held.get(str(run_id))
        if held is not None:
            await self.release(held)

    async def renew(self) -> None:
        """Extend the leases of this worker's runs (done every third of the lease): a slot
        lives as long as its run, and at most one lease after its worker died."""
        by_store: dict[int, tuple[AdmissionStore, list[Slot]]] = {}
        for held in list(self._held.values()):
            by_store.setdefault(id(held.store), (held.store, []))[1].append(held.slot)
        for store, slots in by_store.values():
            try:
                await store.renew(slots, self._settings.lease_s)
            except StoreUnavailable as error:
                self._shared_failed(error)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self._settings.lease_s / 3)
            try:
                await self.renew()
            except Exception:
                logger.exception("Could not renew the leases of this worker's runs")

    # -- which store -----------------------------------------------------------------------------

    def _limits_key(self, principal: Principal) -> bool:
        return principal.id != LOCAL_PRINCIPAL.id or self._settings.limit_local

    def _store(self) -> AdmissionStore:
        if self._shared is None or self._clock.monotonic() < self._shared_down_until:
            return self._local
        return self._shared

    def _shared_failed(self, error: StoreUnavailable) -> None:
        self._metrics.admission_store_errors.inc()
        if self._clock.monotonic() >= self._shared_down_until:
            logger.warning(
                "Redis did not answer an admission check (%s): each worker enforces the limits "
                "in its own process for %gs, then tries Redis again",
                error,
                self._retry_shared_after_s,
            )
        self._shared_down_until = self._clock.monotonic() + self._retry_shared_after_s


def generation_cap(settings: AdmissionSettings, provider: str) -> int:
    """The deployment-wide cap on runs executing at once, 0 for none."""
    if settings.generations is not None:
        return settings.generations
    return GENERATIONS_BY_PROVIDER.get(provider, 0)


def build_admission(settings: Settings, metrics: Metrics, clock: Clock) -> AdmissionControl:
    """Admission control, shared by every worker through Redis when Redis is configured."""
    shared = None
    if settings.redis.url:
        from app.admission.redis_store import RedisAdmissionStore

        shared = RedisAdmissionStore(
            settings.redis.url,
            clock=clock,
            prefix=settings.admission.key_prefix,
            timeout_s=settings.redis.timeout_s,
        )
    return AdmissionControl(
        settings=settings.admission,
        generations=generation_cap(settings.admission, settings.llm.provider),
        shared=shared,
        local=LocalAdmissionStore(clock),
        metrics=metrics,
        clock=clock,
        retry_shared_after_s=settings.redis.retry_after_s,
    )

"""AdmissionControl: one key's limits leave other keys alone; the local user has only the
deployment's cap; a slot is given back once; a Redis outage falls back to per-worker limits,
counted, instead of taking the service down."""

from __future__ import annotations

import uuid

import pytest

from app.admission.local import LocalAdmissionStore
from app.admission.redis_store import RedisAdmissionStore
from app.core.clock import ManualClock
from app.core.errors import CitestreamError, ServiceUnavailable, TooManyRequests
from app.core.metrics import Metrics
from app.core.principals import LOCAL_PRINCIPAL, Principal
from app.core.settings import AdmissionSettings
from app.services.admission import AdmissionControl, generation_cap
from tests.support.services import redis_url

ALICE = Principal(id="key-alice", name="alice")
BOB = Principal(id="key-bob", name="bob")


def _control(
    clock: ManualClock,
    metrics: Metrics,
    *,
    shared_url: str | None = None,
    prefix: str = "x",
    generations: int = 0,
    **settings: object,
) -> AdmissionControl:
    shared = (
        RedisAdmissionStore(shared_url, clock=clock, prefix=prefix, timeout_s=0.25)
        if shared_url
        else None
    )
    return AdmissionControl(
        settings=AdmissionSettings.model_validate(settings),
        generations=generations,
        shared=shared,
        local=LocalAdmissionStore(clock),
        metrics=metrics,
        clock=clock,
    )


def _count(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(f"citestream_admission_{name}_total", labels) or 0.0


@pytest.fixture(params=["in-process", "redis"])
def shared_url(request: pytest.FixtureRequest) -> str | None:
    return redis_url() if request.param == "redis" else None


async def _refused(attempt: object) -> CitestreamError:
    with pytest.raises(CitestreamError) as refused:
        await attempt  # type: ignore[misc]
    return refused.value


async def test_a_flooding_key_is_refused_and_another_key_is_not(
    shared_url: str | None,
    redis_prefix: str,
) -> None:
    clock, metrics = ManualClock(), Metrics()
    control = _control(
        clock,
        metrics,
        shared_url=shared_url,
        prefix=redis_prefix,
        work_per_minute=5,
        requests_per_minute=0,
    )
    try:
        for _ in range(5):
            await control.admit_work(ALICE)
        refused = await _refused(control.admit_work(ALICE))
        for _ in range(5):
            await control.admit_work(BOB)
        clock.advance(12)  # one work request of 5 per minute refills in 12 s
        await control.admit_work(ALICE)
    finally:
        await control.aclose()

    assert isinstance(refused, TooManyRequests)
    assert (refused.status, refused.code) == (429, "rate_limited")
    assert refused.retry_after_s is not None
    assert 11 < refused.retry_after_s <= 12
    assert _count(metrics, "rejections", reason="work_rate") == 1
    assert _count(metrics, "store_errors") == 0


async def test_runs_at_once_per_key_and_for_the_deployment(
    shared_url: str | None,
    redis_prefix: str,
) -> None:
    clock, metrics = ManualClock(), Metrics()
    control = _control(
        clock, metrics, shared_url=shared_url, prefix=redis_prefix, concurrent_runs=2, generations=3
    )
    try:
        alice = [await control.hold_run(ALICE, uuid.uuid4()) for _ in range(2)]
        too_many = await _refused(control.hold_run(ALICE, uuid.uuid4()))
        bob = await control.hold_run(BOB, uuid.uuid4())
        overloaded = await _refused(control.hold_run(BOB, uuid.uuid4()))
        await control.release(alice[0])
        await control.release(alice[0])  # a second release gives nothing more back
        again = await control.hold_run(ALICE, uuid.uuid4())
        still_full = await _refused(control.hold_run(BOB, uuid.uuid4()))
        for held in (alice[1], bob, again):
            await control.release(held)
    finally:
        await control.aclose()

    assert (too_many.status, too_many.code, too_many.retry_after_s) == (429, "too_many_runs", 2)
    assert isinstance(overloaded, ServiceUnavailable)
    assert (overloaded.status, overloaded.code, overloaded.retry_after_s) == (503, "overloaded", 5)
    assert still_full.code == "overloaded"
    assert _count(metrics, "rejections", reason="concurrent_runs") == 1
    assert _count(metrics, "rejections", reason="generations") == 2


async def test_a_run_keeps_its_slot_while_its_worker_renews_it(
    shared_url: str | None,
    redis_prefix: str,
) -> None:
    clock, metrics = ManualClock(), Metrics()
    control = _control(
        clock, metrics, shared_url=shared_url, prefix=redis_prefix, concurrent_runs=1, lease_s=15
    )
    try:
        held = await control.hold_run(ALICE, uuid.uuid4())
        for _ in range(4):  # a minute: four leases, renewed every 10 s
            clock.advance(10)
            await control.renew()
        still_held = await _refused(control.hold_run(ALICE, uuid.uuid4()))
        await control.release(held)
        await control.renew()  # renewing after the end does not bring the slot back
        await control.release(await control.hold_run(ALICE, uuid.uuid4()))
    finally:
        await control.aclose()

    assert still_held.code == "too_many_runs"


async def test_the_local_user_has_only_the_deployment_cap_unless_told_otherwise() -> None:
    clock, metrics = ManualClock(), Metrics()
    open_ = _control(clock, metrics, concurrent_runs=1, work_per_minute=1, generations=3)
    limited = _control(clock, metrics, concurrent_runs=1, work_per_minute=1, limit_local=True)

    for _ in range(3):
        await open_.admit_work(LOCAL_PRINCIPAL)
        await open_.hold_run(LOCAL_PRINCIPAL, uuid.uuid4())
    overloaded = await _refused(open_.hold_run(LOCAL_PRINCIPAL, uuid.uuid4()))
    await limited.admit_work(LOCAL_PRINCIPAL)
    await limited.hold_run(LOCAL_PRINCIPAL, uuid.uuid4())
    rate = await _refused(limited.admit_work(LOCAL_PRINCIPAL))
    runs = await _refused(limited.hold_run(LOCAL_PRINCIPAL, uuid.uuid4()))

    assert overloaded.code == "overloaded"
    assert (rate.code, runs.code) == ("rate_limited", "too_many_runs")


async def test_without_redis_each_worker_enforces_the_limits_and_counts_the_outage() -> None:
    clock, metrics = ManualClock(), Metrics()
    # Nothing listens on port 1: every call fails at once, as with Redis down.
    control = _control(
        clock, metrics, shared_url="redis://127.0.0.1:1/15", work_per_minute=2, concurrent_runs=1
    )
    try:
        await control.admit_work(ALICE)
        await control.admit_work(ALICE)
        rate = await _refused(control.admit_work(ALICE))
        held = await control.hold_run(ALICE, uuid.uuid4())
        runs = await _refused(control.hold_run(ALICE, uuid.uuid4()))
        clock.advance(3)  # past the 2 s before Redis is tried again
        await control.release(held)
        await control.hold_run(ALICE, uuid.uuid4())
    finally:
        await control.aclose()

    assert (rate.code, runs.code) == ("rate_limited", "too_many_runs")
    # Redis is tried once, then left alone for 2 s, then tried again by the last hold (the
    # release goes to the store that gave the slot: this process).
    assert _count(metrics, "store_errors") == 2


def test_the_deployment_cap_is_sized_for_the_model_unless_set() -> None:
    assert generation_cap(AdmissionSettings(), "llamacpp") == 8
    assert generation_cap(AdmissionSettings(), "openai") == 64
    assert generation_cap(AdmissionSettings(), "fake") == 0
    assert generation_cap(AdmissionSettings(generations=2), "openai") == 2

"""What admission control costs an admitted request, with Redis (every worker) and in-process.
Prints numbers.

For one key under its limits, the work of admitting:
1. any API request: one budget (`admit_request`);
2. a run: both budgets, a slot taken, and the slot given back when the run ends
   (`admit_request` + `admit_work` + `hold_run` + `release`), what each chat question costs.

Sequential calls on one event loop, so each figure is one request's latency, not throughput.
Needs Redis on 127.0.0.1:6379 (database 14, under a prefix of its own, deleted afterwards).
Usage: `uv run python -m bench.admission --requests 2000`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from app.admission.local import LocalAdmissionStore
from app.admission.redis_store import RedisAdmissionStore
from app.core.clock import SystemClock
from app.core.metrics import Metrics
from app.core.principals import Principal
from app.core.settings import AdmissionSettings
from app.services.admission import AdmissionControl

REDIS = "redis://127.0.0.1:6379/14"
# High enough that nothing is refused: the cost of admitting, not of refusing.
SETTINGS = AdmissionSettings(
    concurrent_runs=4, work_per_minute=10**9, requests_per_minute=10**9, key_prefix=""
)


def _control(prefix: str | None, metrics: Metrics) -> AdmissionControl:
    clock = SystemClock()
    shared = RedisAdmissionStore(REDIS, clock=clock, prefix=prefix, timeout_s=1) if prefix else None
    return AdmissionControl(
        settings=SETTINGS,
        generations=64,
        shared=shared,
        local=LocalAdmissionStore(clock),
        metrics=metrics,
        clock=clock,
    )


async def _timed(requests: int, call: Callable[[int], Awaitable[None]]) -> list[float]:
    for number in range(min(100, requests)):  # warm up: connections, scripts loaded
        await call(number)
    spent = []
    for number in range(requests):
        started = time.perf_counter()
        await call(number)
        spent.append((time.perf_counter() - started) * 1000)
    return spent


async def _measure(
    control: AdmissionControl, metrics: Metrics, requests: int
) -> dict[str, list[float]]:
    keys = [Principal(id=f"bench-{n}", name=f"bench-{n}") for n in range(16)]

    async def any_request(number: int) -> None:
        await control.admit_request(keys[number % len(keys)])

    async def a_run(number: int) -> None:
        key = keys[number % len(keys)]
        await control.admit_request(key)
        await control.admit_work(key)
        await control.release(await control.hold_run(key, uuid.uuid4()))

    measured = {
        "any API request (one budget)": await _timed(requests, any_request),
        "a run (two budgets, a slot taken and given back)": await _timed(requests, a_run),
    }
    if errors := metrics.registry.get_sample_value("citestream_admission_store_errors_total"):
        raise SystemExit(f"Redis failed {errors:g} times: these are in-process numbers")
    return measured


async def _forget(prefix: str) -> None:
    client = Redis.from_url(REDIS)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def main(requests: int) -> None:
    prefix = f"bench-admission-{uuid.uuid4().hex[:8]}"
    results: dict[str, dict[str, list[float]]] = {}
    for mode, store_prefix in (("in-process", None), ("Redis", prefix)):
        metrics = Metrics()
        control = _control(store_prefix, metrics)
        try:
            results[mode] = await _measure(control, metrics, requests)
        finally:
            await control.aclose()
    await _forget(prefix)
    print(f"{requests} admitted requests each, sequential, one event loop")
    print("| admitting | store | p50 | p95 | mean |")
    print("|---|---|---|---|---|")
    for mode, measured in results.items():
        for what, spent in measured.items():
            p95 = statistics.quantiles(spent, n=20)[-1]
            print(
                f"| {what} | {mode} | {statistics.median(spent):.3f} ms | {p95:.3f} ms | "
                f"{statistics.fmean(spent):.3f} ms |"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    asyncio.run(main(parser.parse_args().requests))

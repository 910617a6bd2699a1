"""Which workers are alive, and each worker's channel for requests about its runs (cancel).

A worker refreshes a key that expires after the liveness TTL, and listens on its own channel;
a worker that stopped refreshing (killed, frozen, cut off) is taken for dead once the key is
gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from app.core.redis_clients import REDIS_UNAVAILABLE

logger = logging.getLogger(__name__)

CancelHandler = Callable[[uuid.UUID, str], None]


class WorkerPresence:
    """This worker's liveness key and control channel, and a view of the others'."""

    def __init__(self, client: Redis, worker_id: str, *, liveness_ttl_ms: int, prefix: str) -> None:
        self._client = client
        self.worker_id = worker_id
        self._liveness_ttl_ms = liveness_ttl_ms
        self._prefix = prefix
        self._control: asyncio.Task[None] | None = None

    def alive_key(self, worker_id: str) -> str:
        return f"{self._prefix}:worker:{worker_id}:alive"

    def _channel(self, worker_id: str) -> str:
        return f"{self._prefix}:worker:{worker_id}:control"

    async def alive(self, worker_id: str) -> bool:
        """Whether that worker refreshed its liveness key within the TTL."""
        return bool(await self._client.exists(self.alive_key(worker_id)))

    async def send_cancel(self, worker_id: str, run_id: uuid.UUID, origin: str) -> None:
        """Ask that worker to cancel one of its runs."""
        await self._client.publish(self._channel(worker_id), f"{run_id} {origin}")

    async def start(self, on_cancel: CancelHandler) -> None:
        """Announce this worker alive and start taking cancel requests for its runs."""
        with contextlib.suppress(RedisError, OSError):  # the control loop keeps trying
            await self._refresh_liveness()
        self._control = asyncio.create_task(self._control_loop(on_cancel))

    async def _control_loop(self, on_cancel: CancelHandler) -> None:
        interval_s = self._liveness_ttl_ms / 3000
        failing = False
        while True:
            try:
                await self._refresh_liveness()
                pubsub = self._client.pubsub(ignore_subscribe_messages=True)
                try:
                    await pubsub.subscribe(self._channel(self.worker_id))
                    if failing:
                        logger.info("Run control channel is back")
                        failing = False
                    await self._listen(pubsub, on_cancel, interval_s)
                finally:
                    with contextlib.suppress(RedisError, OSError):
                        await pubsub.aclose()  # type: ignore[no-untyped-call]
            except (RedisError, OSError) as error:
                if not failing:
                    logger.warning(
                        "Run control channel unavailable (%s): cancels from other workers wait "
                        "until Redis is back",
                        error,
                    )
                    failing = True
                await asyncio.sleep(interval_s)

    async def _listen(self, pubsub: PubSub, on_cancel: CancelHandler, interval_s: float) -> None:
        while True:
            message = await pubsub.get_message(timeout=interval_s)
            if message is not None:
                run_id, _, origin = str(message["data"]).partition(" ")
                with contextlib.suppress(ValueError):
                    on_cancel(uuid.UUID(run_id), origin)
            await self._refresh_liveness()

    async def _refresh_liveness(self) -> None:
        await self._client.set(self.alive_key(self.worker_id), "1", px=self._liveness_ttl_ms)

    async def aclose(self) -> None:
        """Stop listening and say this worker is gone (so nobody waits for the TTL)."""
        if self._control is not None:
            self._control.cancel()
            await asyncio.gather(self._control, return_exceptions=True)
        # Briefly: a Redis that has gone silent must not hold up the process's exit.
        with contextlib.suppress(*REDIS_UNAVAILABLE):
            async with asyncio.timeout(1):
                await self._client.delete(self.alive_key(self.worker_id))

"""Writes that many tasks make at once, sent together: one round trip in flight at a time,
carrying everything asked for while the previous one was out (a group commit).

With hundreds of answers streaming, each run used to send its own pipeline to Redis for every
batch of tokens: hundreds of round trips a second, each paying for a pipeline, a connection
from the pool and its replies, for a few dozen bytes of work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from app.core.futures import look_at_exception

T = TypeVar("T")


class GroupWriter(Generic[T]):
    """Collects items from any number of writers and hands them to `send` in batches, in the
    order they were written. An error of `send` reaches the writers of that batch."""

    def __init__(self, send: Callable[[list[T]], Awaitable[None]]) -> None:
        self._send = send
        self._pending: list[T] = []
        self._written: asyncio.Future[None] | None = None  # resolves when `_pending` is sent
        self._sender: asyncio.Task[None] | None = None

    async def write(self, items: list[T]) -> None:
        """Add `items` to the next batch; return once that batch has been sent."""
        # Shielded: a writer that is cancelled while waiting leaves its items in the batch, and
        # the batch goes out for the others all the same.
        await asyncio.shield(self.submit(items))

    def submit(self, items: list[T]) -> asyncio.Future[None]:
        """Add `items` to the next batch without waiting for it: the future is done once that
        batch has been sent, with its error if sending it failed."""
        if not items:  # nothing to send: no batch would ever resolve a future for it
            done = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        self._pending.extend(items)
        if self._written is None:
            self._written = asyncio.get_running_loop().create_future()
            # Looked at even if nobody waits for it, or every writer of the batch was cancelled.
            self._written.add_done_callback(look_at_exception)
        written = self._written
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_batches())
        return written

    async def _send_batches(self) -> None:
        while self._pending:
            batch, written = self._pending, self._written
            self._pending, self._written = [], None
            assert written is not None
            try:
                await self._send(batch)
            except asyncio.CancelledError:
                written.cancel()
                raise
            except Exception as error:
                written.set_exception(error)
            else:
                written.set_result(None)

    async def aclose(self) -> None:
        """Wait for what was written to be sent."""
        if self._sender is not None:
            await asyncio.shield(self._sender)

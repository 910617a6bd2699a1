"""Time limits on a model's stream: its first token, and the silence between two tokens.

Applied where the answer is read, around whatever the provider does (connecting, reading the
prompt, waiting for its turn), so that every provider is held to the same limits. Expiring
cancels the awaiting task, which closes an HTTP stream or stops the embedded model's thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from app.core.errors import LLMTimeout

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenDeadlines:
    """How long a model may take to its first token, and to each next one."""

    first_token_s: float
    stall_s: float

    @asynccontextmanager
    async def watch(self) -> AsyncIterator[TokenClock]:
        """Limit the block to the first-token time until `TokenClock.tick()`, then each gap to
        the stall time; on expiry the block is cancelled and LLMTimeout raised."""
        loop = asyncio.get_running_loop()
        clock = TokenClock(self, loop)
        try:
            async with asyncio.timeout(self.first_token_s) as deadline:
                clock.deadline = deadline
                try:
                    yield clock
                finally:
                    clock.stop()
        except TimeoutError:
            if not clock.expired():  # someone else's timeout: not ours to rename
                raise
            if clock.started:
                raise LLMTimeout(
                    f"The language model stopped writing for {self.stall_s:g} seconds; "
                    "the answer was cut short."
                ) from None
            raise LLMTimeout(
                f"The language model did not start answering within {self.first_token_s:g} seconds."
            ) from None


class TokenClock:
    """Resets the watch each time the model produces something.

    A token only notes when it came. Moving the deadline at every token (a timer cancelled
    and another one pushed onto the loop's heap) was a tenth of a token's cost under load;
    instead one timer, due a stall time after the latest token it knows of, looks again when
    it fires, and expires the deadline only if no token came meanwhile.
    """

    def __init__(self, limits: TokenDeadlines, loop: asyncio.AbstractEventLoop) -> None:
        self._limits = limits
        self._loop = loop
        self.deadline: asyncio.Timeout | None = None
        self.started = False
        self._last_token_at = 0.0
        self._look_again: asyncio.TimerHandle | None = None

    def tick(self) -> None:
        """A token arrived: the next one is due within the stall time."""
        self._last_token_at = self._loop.time()
        if not self.started:
            self.started = True
            if self.deadline is not None:
                self.deadline.reschedule(None)  # the first-token limit is met
                self._look_again = self._loop.call_at(
                    self._last_token_at + self._limits.stall_s, self._look
                )

    def _look(self) -> None:
        due = self._last_token_at + self._limits.stall_s
        now = self._loop.time()
        if now < due:  # a token came since this timer was set: look again when the next is due
            self._look_again = self._loop.call_at(due, self._look)
        elif self.deadline is not None:
            self._look_again = None
            self.deadline.reschedule(now)  # expires it: the block is cancelled

    def stop(self) -> None:
        """The block has ended: no more looking."""
        if self._look_again is not None:
            self._look_again.cancel()
            self._look_again = None

    def expired(self) -> bool:
        return self.deadline is not None and self.deadline.expired()

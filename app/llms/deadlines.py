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
                yield clock
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
    """Resets the watch each time the model produces something."""

    def __init__(self, limits: TokenDeadlines, loop: asyncio.AbstractEventLoop) -> None:
        self._limits = limits
        self._loop = loop
        self.deadline: asyncio.Timeout | None = None
        self.started = False

    def tick(self) -> None:
        """A token arrived: the next one is due within the stall time."""
        self.started = True
        if self.deadline is not None:
            self.deadline.reschedule(self._loop.time() + self._limits.stall_s)

    def expired(self) -> bool:
        return self.deadline is not None and self.deadline.expired()

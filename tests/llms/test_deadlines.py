"""The stall limit counts from the latest token, however many came before it."""

from __future__ import annotations

import asyncio
import re

import pytest

from app.core.errors import LLMTimeout
from app.llms.deadlines import TokenDeadlines

LIMITS = TokenDeadlines(first_token_s=0.3, stall_s=0.3)


async def _write_then_fall_silent(tokens: int) -> None:
    async with LIMITS.watch() as clock:
        for _ in range(tokens):
            await asyncio.sleep(0.05)
            clock.tick()
        await asyncio.sleep(5)


async def test_a_model_that_keeps_writing_is_never_cut_off() -> None:
    async with LIMITS.watch() as clock:
        for _ in range(12):  # 0.6 s in all: twice each limit, never a gap near it
            await asyncio.sleep(0.05)
            clock.tick()


async def test_a_silence_after_many_tokens_is_cut_off() -> None:
    with pytest.raises(LLMTimeout, match=re.escape("stopped writing for 0.3 seconds")):
        await _write_then_fall_silent(8)


async def test_no_first_token_is_cut_off_by_the_first_token_limit() -> None:
    with pytest.raises(LLMTimeout, match=re.escape("did not start answering within 0.3 seconds")):
        await _write_then_fall_silent(0)

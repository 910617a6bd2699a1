"""The FAKE model, for load tests and benchmarks only: it reads nothing and knows nothing.

It answers every prompt with the same deterministic text of `fake_tokens` tokens, one every
`fake_delay_ms` milliseconds, citing `[1]` (and `[2]` when the prompt offers a second source), so
that the whole streaming path can be measured without a model's cost or randomness.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Sequence

from llama_index.core.base.llms.types import ChatMessage

from app.llms.base import AsyncStreamingLLM

_WORDS = [
    "Citestream",
    "streams",
    "each",
    "token",
    "of",
    "the",
    "answer",
    "as",
    "a",
    "message",
    "event",
    "and",
    "ends",
    "with",
    "the",
    "sources",
    "it",
    "cites",
    "so",
    "that",
    "a",
    "frontend",
    "can",
    "render",
    "citations",
    "as",
    "soon",
    "as",
    "the",
    "answer",
    "is",
    "complete",
]
_SOURCE_LABEL = re.compile(r"^Source (\d+):", re.MULTILINE)


class FakeStreamingLLM(AsyncStreamingLLM):
    """Deterministic stand-in model for load tests (provider `fake`). Never for real answers."""

    model_name: str = "citestream-fake"
    tokens: int = 64
    delay_ms: float = 20.0
    # Rehearses an upstream that hangs: silent for `stall_s` after this many tokens.
    stall_after: int | None = None
    stall_s: float = 3600.0

    async def stream_tokens(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
        prompt = "\n".join(message.content or "" for message in messages)
        # LlamaIndex's citation prompt shows a worked example before the real sources, which it
        # fences with "------": count only the numbered sources inside the last fence.
        fenced = prompt.split("------")
        offered = fenced[-2] if len(fenced) >= 3 else prompt
        sources = sorted({int(n) for n in _SOURCE_LABEL.findall(offered)})[:2] or [1]
        delay_s = self.delay_ms / 1000
        # Looked up once: a pydantic private attribute costs a __getattr__ call each time.
        count_tokens = self._count_tokens
        for position in range(self.tokens):
            if position == self.stall_after:
                await asyncio.sleep(self.stall_s)
            if delay_s:
                await asyncio.sleep(delay_s)
            else:
                await asyncio.sleep(0)  # still yield to the loop, as a real client would
            count_tokens(1)
            yield _token_at(position, sources)


def _token_at(position: int, sources: list[int]) -> str:
    # Every eighth token is a citation, cycling through the sources the prompt offered.
    if position % 8 == 7:
        return f" [{sources[(position // 8) % len(sources)]}]"
    word = _WORDS[position % len(_WORDS)]
    return word if position == 0 else f" {word}"

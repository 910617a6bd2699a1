"""Stand-ins for a remote model (outside our boundary), where a real one cannot show the case."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence

from llama_index.core.base.llms.types import ChatMessage
from pydantic import Field

from app.llms.base import AsyncStreamingLLM

CONDENSE_MARKER = "<Standalone question>"


class ScriptedLLM(AsyncStreamingLLM):
    """Answers condense prompts with `condensed`, answer prompts with `answer`; records prompts."""

    answer: str = "Close the connection to stop [1]."
    condensed: str = "How do I cancel a stream?"
    delay_s: float = 0.0
    prompts: list[str] = Field(default_factory=list)

    async def stream_tokens(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
        prompt = "\n".join(m.content or "" for m in messages)
        self.prompts.append(prompt)
        text = self.condensed if CONDENSE_MARKER in prompt else self.answer
        for word in text.split(" "):
            await asyncio.sleep(self.delay_s)
            self._count_tokens(1)
            yield word + " "


class BrokenLLM(AsyncStreamingLLM):
    """Produces `good_tokens` tokens, then fails like a remote server dropping the connection."""

    good_tokens: int = 3

    async def stream_tokens(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
        for position in range(self.good_tokens):
            await asyncio.sleep(0.01)
            self._count_tokens(1)
            yield f"token{position} "
        raise ConnectionResetError("upstream closed at /srv/model.py line 42")

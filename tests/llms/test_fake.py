"""The load-test model: deterministic, paced, and citing what the prompt offers."""

from __future__ import annotations

import time

from llama_index.core.base.llms.types import ChatMessage

from app.llms.fake import FakeStreamingLLM


async def _tokens(llm: FakeStreamingLLM, prompt: str) -> list[str]:
    return [t async for t in llm.stream_tokens([ChatMessage(role="user", content=prompt)])]


async def test_fake_answer_is_deterministic_and_counted() -> None:
    counted: list[int] = []
    llm = FakeStreamingLLM(tokens=24, delay_ms=0, on_tokens=counted.append)
    first = await _tokens(llm, "Source 1:\nA\n\nSource 2:\nB\n")
    second = await _tokens(llm, "Source 1:\nA\n\nSource 2:\nB\n")
    assert first == second
    assert len(first) == 24 == sum(counted) // 2
    assert [t for t in first if t.startswith(" [")] == [" [1]", " [2]", " [1]"]
    assert "[2]" not in "".join(await _tokens(llm, "Source 1:\nonly one\n"))
    # LlamaIndex's template: a worked example with two sources, then one real source.
    template = "Source 1:\nsky\nSource 2:\nwater\n------\nSource 1:\nreal\n------\nQuery: q"
    assert "[2]" not in "".join(await _tokens(llm, template))


async def test_fake_paces_its_tokens() -> None:
    llm = FakeStreamingLLM(tokens=5, delay_ms=30)
    started = time.perf_counter()
    await _tokens(llm, "hi")
    assert time.perf_counter() - started >= 5 * 0.03

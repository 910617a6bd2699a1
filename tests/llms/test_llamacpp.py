"""The embedded SmolLM2 model, run by llama.cpp in its worker thread, through the whole stack."""

from __future__ import annotations

import asyncio
import itertools
import resource
import time

import httpx
import pytest
from httpx_sse import aconnect_sse

from tests.conftest import MakeSettings
from tests.support.server import serve
from tests.support.sse import answer_text, decode, read_messages

pytestmark = pytest.mark.llamacpp

QUESTION = {"query": "How do I cancel a stream?"}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def test_smollm2_answers_from_the_documents(make_settings: MakeSettings) -> None:
    settings = make_settings(llm={"provider": "llamacpp", "max_new_tokens": 48})
    arrivals: list[float] = []
    async with (
        serve(settings) as server,
        httpx.AsyncClient(base_url=server.url, timeout=120) as client,
    ):
        async with aconnect_sse(client, "POST", "/api/chat/stream", json=QUESTION) as source:
            events = []
            async for sse in source.aiter_sse():
                events.append(decode(sse))
                if sse.event == "message":
                    arrivals.append(time.perf_counter())
        tokens = await server.metric("citestream_llm_tokens_total")

    assert events[0].event == "meta"
    assert events[-1].event == "source", events[-1]
    assert events[-1].data[0]["document"] == "cancellation.md"
    answer = answer_text(events)
    assert len(answer.split()) >= 3
    assert any(word in answer.lower() for word in ("close", "connection", "cancel"))
    assert 3 <= tokens <= 48
    assert arrivals[-1] - arrivals[0] > 0.05  # streamed as produced, not in one piece


async def test_disconnect_stops_llamacpp_and_the_cpu_goes_quiet(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(llm={"provider": "llamacpp", "max_new_tokens": 256})
    async with (
        serve(settings) as server,
        httpx.AsyncClient(base_url=server.url, timeout=120) as client,
    ):
        async with aconnect_sse(client, "POST", "/api/chat/stream", json=QUESTION) as source:
            await read_messages(source, 3)
        await server.wait_for_metric("citestream_active_streams", 0)
        assert await server.metric("citestream_streams_total", outcome="cancelled") == 1
        settled = await server.metric("citestream_llm_tokens_total")
        cpu_before, wall_before = _cpu_seconds(), time.perf_counter()
        await asyncio.sleep(1.0)
        cpu_used = _cpu_seconds() - cpu_before
        wall = time.perf_counter() - wall_before
        assert await server.metric("citestream_llm_tokens_total") == settled

    assert settled < 256  # the model did not run to its token limit
    # Generating keeps about every core busy; a stopped model leaves the process idle.
    assert cpu_used < 0.3 * wall, f"{cpu_used:.2f}s CPU in {wall:.2f}s after the disconnect"


async def test_two_streams_share_the_model_one_generation_at_a_time(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(llm={"provider": "llamacpp", "max_new_tokens": 16})
    arrivals: dict[int, list[float]] = {0: [], 1: []}
    async with (
        serve(settings) as server,
        httpx.AsyncClient(base_url=server.url, timeout=120) as client,
    ):

        async def ask(number: int) -> list[str]:
            async with aconnect_sse(client, "POST", "/api/chat/stream", json=QUESTION) as source:
                events = []
                async for sse in source.aiter_sse():
                    events.append(sse.event)
                    if sse.event == "message":
                        arrivals[number].append(time.perf_counter())
                return events

        async def probe_while_generating() -> list[float]:
            await server.wait_for_metric_at_least("citestream_llm_tokens_total", 2)
            delays = []
            for _ in range(5):
                started = time.perf_counter()
                assert (await client.get("/healthz")).status_code == 200
                delays.append(time.perf_counter() - started)
            return delays

        first, second, delays = await asyncio.gather(ask(0), ask(1), probe_while_generating())
    assert first[-1] == second[-1] == "source"
    # The event loop stays free while llama.cpp works in its thread.
    assert max(delays) < 0.5, delays
    # One generation at a time: one answer's tokens come before the other's. Compared on the
    # client's clock, delivery can blur the hand-over by a token or two; two generations side
    # by side would interleave all along (16 tokens each: dozens of switches).
    merged = sorted((time, number) for number, times in arrivals.items() for time in times)
    switches = sum(1 for (_, a), (_, b) in itertools.pairwise(merged) if a != b)
    assert switches <= 3, merged


async def test_a_first_token_timeout_stops_llamacpp_while_it_reads_the_prompt() -> None:
    """The limit fires while llama.cpp is still reading a long prompt (no token yet): its abort
    callback ends the computation, so the thread stops without producing a token, and the model
    answers the next question as usual."""
    from llama_index.core.base.llms.types import ChatMessage

    from app.core.errors import LLMTimeout
    from app.llms.deadlines import TokenDeadlines
    from app.llms.llamacpp import LlamaCppLLM, bundled_smollm2_path

    produced: list[int] = []
    llm = LlamaCppLLM(
        model_path=str(bundled_smollm2_path()),
        context_window=8192,
        max_new_tokens=8,
        on_tokens=produced.append,
    )
    await llm.open()
    try:
        # About 5,000 tokens of prompt: seconds of work before the first token on any CPU.
        long_prompt = " ".join(f"word{i}" for i in range(1700))

        async def read_under_a_first_token_limit() -> None:
            async with TokenDeadlines(first_token_s=0.3, stall_s=30).watch() as clock:
                async for _ in llm.stream_tokens([ChatMessage(content=long_prompt)]):
                    clock.tick()

        with pytest.raises(LLMTimeout, match="did not start answering"):
            await read_under_a_first_token_limit()
        # The worker runs one job at a time: once this no-op has run, the generation is over.
        await asyncio.get_running_loop().run_in_executor(llm._worker, lambda: None)
        assert produced == []  # stopped while reading the prompt, not after its first token

        answer = [t async for t in llm.stream_tokens([ChatMessage(content="Say hello.")])]
        assert "".join(answer).strip()
    finally:
        await llm.aclose()

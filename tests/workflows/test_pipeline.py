"""An answer in progress: answers start a few at a time, in the order they were asked; the
workflow ends once the model's answer is ready, the answer is read after it, and stopping the
answer stops the model whatever it was doing."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncGenerator, AsyncIterator, Sequence

import pytest
from llama_index.core.base.llms.types import ChatMessage
from pydantic import Field
from workflows.handler import WorkflowHandler

from app.core.errors import AnswerTimeout
from app.llms.base import AsyncStreamingLLM
from app.workflows import build_answer_pipeline
from app.workflows.answers import AnswerInProgress, AnswerPipeline, AnswerRequest
from app.workflows.citation_chat import PassageSearch
from tests.support.retrievers import FixedSearch, HeldSearch, TurnstileSearch, passage


class WordsLLM(AsyncStreamingLLM):
    """Writes `words` words, then ends."""

    words: int = 3

    async def stream_tokens(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
        for _ in range(self.words):
            await asyncio.sleep(0)
            yield "word "


class EndlessLLM(AsyncStreamingLLM):
    """Writes a word every 10 ms until its stream is closed, which it notes."""

    closed: list[bool] = Field(default_factory=list)

    async def stream_tokens(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
        try:
            while True:
                await asyncio.sleep(0.01)
                yield "word "
        finally:
            self.closed.append(True)


VACATION = passage("Full-time employees get 28 vacation days a year.", "Benefits > Paid Time Off")


def _pipeline(
    llm: AsyncStreamingLLM,
    search: PassageSearch | None = None,
    *,
    answer_timeout_s: float = 30,
    max_starting: int = 64,
) -> AnswerPipeline:
    return build_answer_pipeline(
        llm=llm,
        search=search or FixedSearch(VACATION),
        citation_chunk_size=256,
        prompt_style="compact",
        answer_timeout_s=answer_timeout_s,
        max_starting_answers=max_starting,
        first_token_timeout_s=5,
        stall_timeout_s=5,
    )


def _ask(pipeline: AnswerPipeline, question: str = "How many vacation days?") -> AnswerInProgress:
    return pipeline.start(AnswerRequest(question, [], "samples"))


def _start(llm: EndlessLLM, *, answer_timeout_s: float = 30) -> AnswerInProgress:
    return _ask(_pipeline(llm, answer_timeout_s=answer_timeout_s))


async def _first_delta(deltas: AsyncIterator[str]) -> str:
    async for delta in deltas:
        return delta
    raise AssertionError("the answer ended without a word")


def _workflow_runs_alive() -> int:
    gc.collect()
    return sum(isinstance(thing, WorkflowHandler) for thing in gc.get_objects())


async def test_while_the_model_writes_no_workflow_run_is_held() -> None:
    # A workflow run holds its runtime (queues, tasks, context, events): kept for the whole
    # answer, that was a third of an open stream's memory.
    search = TurnstileSearch(VACATION)
    before = _workflow_runs_alive()
    answer = _ask(_pipeline(EndlessLLM(), search))
    await search.until_holding(1)
    assert _workflow_runs_alive() == before + 1
    search.let_through()

    assert await _first_delta(answer.deltas()) == "word "

    assert _workflow_runs_alive() == before
    assert not answer.is_done()
    await answer.stop()


async def test_stopping_an_answer_being_written_closes_the_models_stream_at_once() -> None:
    llm = EndlessLLM()
    answer = _start(llm)
    await _first_delta(answer.deltas())

    await answer.stop()

    assert llm.closed == [True]
    assert answer.is_done()
    written = answer.tokens
    await asyncio.sleep(0.05)
    assert answer.tokens == written


async def test_the_answers_time_limit_covers_the_writing() -> None:
    llm = EndlessLLM()
    answer = _start(llm, answer_timeout_s=0.3)
    await _first_delta(answer.deltas())

    with pytest.raises(AnswerTimeout):
        await answer.result()

    assert llm.closed == [True]


async def test_answers_start_a_few_at_a_time_in_the_order_they_were_asked() -> None:
    search = TurnstileSearch(VACATION)
    pipeline = _pipeline(WordsLLM(), search, max_starting=2)
    answers = [_ask(pipeline, f"question {n}") for n in range(5)]

    await search.until_holding(2)
    await asyncio.sleep(0.05)  # time for any other answer to start, if it could
    assert search.began == ["question 0", "question 1"]
    assert (pipeline.starts_running(), pipeline.starts_waiting()) == (2, 3)

    search.let_through()
    results = [await answer.result() for answer in answers]
    assert (pipeline.starts_running(), pipeline.starts_waiting()) == (0, 0)

    assert search.began == [f"question {n}" for n in range(5)]
    assert search.most_at_once == 2
    assert all(result.text == "word word word " for result in results)
    assert all(len(result.citations) == 1 for result in results)


async def test_an_answer_stopped_while_it_waits_its_turn_never_starts() -> None:
    search = TurnstileSearch(VACATION)
    pipeline = _pipeline(WordsLLM(), search, max_starting=1)
    first, waiting, last = (_ask(pipeline, f"question {n}") for n in range(3))
    await search.until_holding(1)
    assert search.held == ["question 0"]

    await waiting.stop()

    assert waiting.is_done()
    assert (pipeline.starts_running(), pipeline.starts_waiting()) == (1, 1)
    assert [delta async for delta in waiting.deltas()] == []
    search.let_through()
    assert (await first.result()).text == "word word word "
    assert (await last.result()).text == "word word word "
    assert search.began == ["question 0", "question 2"]


async def test_an_answer_stopped_while_it_starts_lets_the_next_one_start() -> None:
    search = HeldSearch()
    pipeline = _pipeline(WordsLLM(), search, max_starting=1)
    starting, waiting = _ask(pipeline), _ask(pipeline)
    await search.entered.wait()
    search.entered.clear()

    await starting.stop()

    assert search.cancelled.is_set()  # the workflow's search was stopped, not left running
    await asyncio.wait_for(search.entered.wait(), 5)
    await waiting.stop()


async def test_the_answers_time_limit_stops_a_workflow_that_is_still_starting() -> None:
    search = HeldSearch()
    answer = _ask(_pipeline(WordsLLM(), search, answer_timeout_s=0.3))

    with pytest.raises(AnswerTimeout):
        await answer.result()

    assert search.cancelled.is_set()


async def test_the_answers_time_limit_covers_waiting_for_its_turn() -> None:
    search = TurnstileSearch(VACATION)
    pipeline = _pipeline(WordsLLM(), search, answer_timeout_s=0.3, max_starting=1)
    first, waiting = _ask(pipeline, "question 0"), _ask(pipeline, "question 1")

    with pytest.raises(AnswerTimeout):
        await waiting.result()

    assert search.began == ["question 0"]
    with pytest.raises(AnswerTimeout):
        await first.result()


async def test_with_no_limit_every_answer_starts_at_once() -> None:
    search = TurnstileSearch(VACATION)
    pipeline = _pipeline(WordsLLM(), search, max_starting=0)
    answers = [_ask(pipeline, f"question {n}") for n in range(100)]

    await search.until_holding(100)
    search.let_through()

    results = [await answer.result() for answer in answers]
    assert all(result.text == "word word word " for result in results)

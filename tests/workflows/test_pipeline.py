"""An answer in progress: the workflow ends once the model's answer is ready, the answer is read
after it, and stopping the answer stops the model whatever it was doing."""

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
from app.workflows.answers import AnswerInProgress, AnswerRequest
from tests.support.retrievers import FixedSearch, passage


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


def _start(llm: EndlessLLM, *, answer_timeout_s: float = 30) -> AnswerInProgress:
    pipeline = build_answer_pipeline(
        llm=llm,
        search=FixedSearch(
            passage("Full-time employees get 28 vacation days a year.", "Benefits > Paid Time Off")
        ),
        citation_chunk_size=256,
        prompt_style="compact",
        answer_timeout_s=answer_timeout_s,
        first_token_timeout_s=5,
        stall_timeout_s=5,
    )
    return pipeline.start(AnswerRequest("How many vacation days?", [], "samples"))


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
    llm = EndlessLLM()
    before = _workflow_runs_alive()
    answer = _start(llm)
    assert _workflow_runs_alive() == before + 1

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

"""What the answering model reads in each prompt style, and the citations it leads to."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.base.response.schema import AsyncStreamingResponse
from llama_index.core.schema import QueryBundle
from pydantic import Field

from app.llms.base import AsyncStreamingLLM
from app.workflows.citation_chat import build_citation_engine
from app.workflows.citations import citations_of, marking_cited
from tests.support.retrievers import FixedSearch, passage

ANSWER = "You get 28 vacation days a year [2]."


class PromptRecorder(AsyncStreamingLLM):
    """Answers ANSWER and keeps the messages it was given."""

    seen: list[str] = Field(default_factory=list)

    async def stream_tokens(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
        self.seen.extend(message.content or "" for message in messages)
        yield ANSWER


PASSAGES = [
    passage("Quillfen pays 6 percent of your salary into the pension.", "Benefits > Pension"),
    passage("Full-time employees get 28 vacation days a year.", "Benefits > Paid Time Off", 3),
]


async def _answer(style: str) -> tuple[str, AsyncStreamingResponse]:
    llm = PromptRecorder()
    engine = build_citation_engine(
        llm=llm, search=FixedSearch(), citation_chunk_size=256, prompt_style=style
    )
    response = await engine.asynthesize(QueryBundle("How many vacation days do I get?"), PASSAGES)
    assert isinstance(response, AsyncStreamingResponse)
    assert "".join([token async for token in response.response_gen]) == ANSWER
    return "\n".join(llm.seen), response


async def test_the_compact_prompt_numbers_passages_as_the_model_cites_them() -> None:
    prompt, response = await _answer("compact")

    assert "[1] Quillfen pays 6 percent" in prompt
    assert "[2] Full-time employees get 28 vacation days" in prompt
    # No metadata lines for a small model to copy instead of answering.
    assert "title:" not in prompt.lower()
    assert "heading:" not in prompt.lower()
    assert "Source 1" not in prompt
    # Question, passages, then the instruction the model reads just before it answers.
    assert prompt.index("How many vacation days") < prompt.index("[1] Quillfen")
    assert prompt.index("[2] Full-time") < prompt.index("Answer the question")
    assert prompt.rstrip().endswith("like [1].")

    citations = marking_cited(citations_of(response.source_nodes), ANSWER)
    assert [(c.index, c.cited) for c in citations] == [(1, False), (2, True)]
    assert citations[1].text == "Full-time employees get 28 vacation days a year."
    assert citations[1].title == "Employee Benefits at Quillfen"
    assert citations[1].heading == "Benefits > Paid Time Off"
    assert citations[1].page == 3
    assert citations[1].document == "employee-benefits.md"


async def test_the_llamaindex_prompt_keeps_its_source_labels_and_metadata() -> None:
    prompt, response = await _answer("llamaindex")

    assert "Source 2:\nFull-time employees get 28 vacation days" in prompt
    assert "title: Employee Benefits at Quillfen" in prompt
    citations = marking_cited(citations_of(response.source_nodes), ANSWER)
    assert citations[1].cited
    assert citations[1].text == "Full-time employees get 28 vacation days a year."

"""The LlamaIndex workflow that answers questions, behind a port of plain values.

Importing this package is cheap; LlamaIndex loads when the first pipeline is built, so the
server answers its health check before the model and the workflow are ready.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

    from app.workflows.answers import AnswerPipeline
    from app.workflows.citation_chat import PassageSearch


def build_answer_pipeline(
    *,
    llm: LLM,
    search: PassageSearch,
    citation_chunk_size: int,
    prompt_style: str,
    answer_timeout_s: float,
    max_starting_answers: int,
    first_token_timeout_s: float,
    stall_timeout_s: float,
) -> AnswerPipeline:
    """The citation chat workflow over `llm` and `search`, as an AnswerPipeline."""
    from app.llms.deadlines import TokenDeadlines
    from app.workflows.citation_chat import CitationChatWorkflow, build_citation_engine
    from app.workflows.pipeline import WorkflowAnswerPipeline

    engine = build_citation_engine(
        llm=llm, search=search, citation_chunk_size=citation_chunk_size, prompt_style=prompt_style
    )
    workflow = CitationChatWorkflow(
        llm=llm,
        citation_engine=engine,
        search=search,
        deadlines=TokenDeadlines(first_token_timeout_s, stall_timeout_s),
    )
    return WorkflowAnswerPipeline(
        workflow, answer_timeout_s=answer_timeout_s, max_starting=max_starting_answers
    )

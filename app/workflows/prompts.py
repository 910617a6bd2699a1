"""Prompts. LlamaIndex's own are the default; the compact one is for very small local models."""

from __future__ import annotations

from llama_index.core.prompts import PromptTemplate
from llama_index.core.query_engine.citation_query_engine import CITATION_QA_TEMPLATE

# CitationQueryEngine's template teaches citing with a worked example; SmolLM2-135M copies the
# example instead of answering. This keeps its contract (numbered passages, `[n]` citations) in
# the few words a small model follows: the question, then the passages as `[n] text` (see
# CompactCitationQueryEngine), then the instruction, read just before it answers. With the
# instruction first it rarely cited; with the question right after the passages it often
# continued their numbered list (`[4] ...` after three passages), citing nothing.
COMPACT_CITATION_QA_TEMPLATE = PromptTemplate(
    "Question: {query_str}\n\n{context_str}\n\n"
    "Answer the question in one sentence from the numbered sources and end it with the number "
    "of the source you used, like [1]."
)


def citation_qa_template(style: str) -> PromptTemplate:
    """The answer prompt for a prompt style (`llamaindex` or `compact`)."""
    if style == "compact":
        return COMPACT_CITATION_QA_TEMPLATE
    assert isinstance(CITATION_QA_TEMPLATE, PromptTemplate)
    return CITATION_QA_TEMPLATE

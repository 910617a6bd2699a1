"""Prompts. LlamaIndex's own are the default; the compact one is for very small local models."""

from __future__ import annotations

from llama_index.core.prompts import PromptTemplate
from llama_index.core.query_engine.citation_query_engine import CITATION_QA_TEMPLATE

# CitationQueryEngine's template teaches citing with a worked example; SmolLM2-135M copies the
# example instead of answering. This keeps its contract (numbered `Source n:` passages, `[n]`
# citations) in the few words a small model follows.
COMPACT_CITATION_QA_TEMPLATE = PromptTemplate(
    "Answer the question using only the sources below. After each fact, cite its source "
    "number in brackets, like [1].\n\n{context_str}\nQuestion: {query_str}\nAnswer:"
)


def citation_qa_template(style: str) -> PromptTemplate:
    """The answer prompt for a prompt style (`llamaindex` or `compact`)."""
    if style == "compact":
        return COMPACT_CITATION_QA_TEMPLATE
    assert isinstance(CITATION_QA_TEMPLATE, PromptTemplate)
    return CITATION_QA_TEMPLATE

"""Citations from the passages an answer was written from, numbered as the prompt numbered
them (`Source 1`, ...), with the ones the answer cites as `[n]` marked."""

from __future__ import annotations

import dataclasses
import re

from llama_index.core.schema import NodeWithScore

from app.core.chunks import (
    CHUNK_ID_KEY,
    DOCUMENT_ID_KEY,
    FILE_NAME_KEY,
    HEADING_KEY,
    PAGE_KEY,
    TITLE_KEY,
)
from app.core.citations import SNIPPET_CHARS, Citation

_CITATION = re.compile(r"\[(\d+)\]")
# How a passage's number starts its text: `Source n:` (LlamaIndex's prompt) or `[n]` (compact).
SOURCE_LABEL = re.compile(r"^(?:Source \d+:|\[\d+\])\s*")


def cited_indexes(answer: str) -> set[int]:
    """The n of every `[n]` in the answer."""
    return {int(n) for n in _CITATION.findall(answer)}


def citations_of(nodes: list[NodeWithScore]) -> list[Citation]:
    """Number the passages as the prompt did, none cited yet (see `marking_cited`). Taken before
    the model writes, so that an answer being written keeps these and not the passages' nodes
    (a pydantic node per passage, with its metadata and relationships)."""
    citations = []
    for index, hit in enumerate(nodes, start=1):
        metadata = dict(hit.node.metadata)
        chunk_id = str(metadata.pop(CHUNK_ID_KEY, hit.node.node_id))
        text = SOURCE_LABEL.sub("", hit.node.get_content()).strip()
        snippet = text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"
        page = metadata.get(PAGE_KEY)
        citations.append(
            Citation(
                index=index,
                node_id=chunk_id,
                document=str(metadata.get(FILE_NAME_KEY, "")),
                document_id=_optional_str(metadata.get(DOCUMENT_ID_KEY)),
                title=_optional_str(metadata.get(TITLE_KEY)),
                page=page if isinstance(page, int) else None,
                heading=_optional_str(metadata.get(HEADING_KEY)),
                text=snippet,
                score=hit.score,
                metadata=metadata,
            )
        )
    return citations


def marking_cited(citations: list[Citation], answer: str) -> list[Citation]:
    """The citations, with those the answer cites as `[n]` marked."""
    cited = cited_indexes(answer)
    return [
        dataclasses.replace(citation, cited=True) if citation.index in cited else citation
        for citation in citations
    ]


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)

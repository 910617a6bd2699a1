"""Typed domain events of one answer, independent of how they travel (SSE, text, JSON)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from llama_index.core.schema import NodeWithScore
from pydantic import BaseModel, Field

from app.core.chunks import CHUNK_ID_KEY
from app.core.errors import CitestreamError

SNIPPET_CHARS = 300
_CITATION = re.compile(r"\[(\d+)\]")
_SOURCE_LABEL = re.compile(r"^Source \d+:\s*")


class Source(BaseModel):
    """A numbered passage the answer may cite as `[index]`."""

    index: int = Field(description="The n of `[n]` in the answer.")
    node_id: str = Field(
        description="Id of the retrieved chunk: `GET /api/documents/{document_id}?chunk_id=` "
        "shows it in context."
    )
    document: str = Field(description="Name of the document the chunk comes from.")
    # Defaults: answers stored before these fields existed are still read back.
    document_id: str | None = Field(default=None, description="Id of that document.")
    title: str | None = Field(default=None, description="The document's title.")
    page: int | None = Field(default=None, description="The PDF page the passage is on (1-based).")
    heading: str | None = Field(
        default=None,
        description="The heading path of the passage in Markdown or HTML, e.g. 'Travel > Meals'.",
    )
    text: str = Field(description=f"A snippet of the passage, at most {SNIPPET_CHARS} characters.")
    score: float | None = Field(
        description="Retrieval score, higher is better: BM25 (lexical), cosine similarity "
        "(dense) or reciprocal-rank-fusion score (hybrid)."
    )
    metadata: dict[str, Any] = Field(description="The chunk's metadata (title, file name, ...).")
    cited: bool = Field(description="Whether the answer cites it as `[index]`.")


@dataclass(frozen=True)
class AnswerStarted:
    """The turn is stored and the answer begins."""

    session_id: uuid.UUID
    message_id: uuid.UUID


@dataclass(frozen=True)
class AnswerDelta:
    """A piece of the answer, as the model produced it."""

    text: str


@dataclass(frozen=True)
class AnswerSources:
    """The sources of a finished answer; the last event of a success."""

    sources: list[Source]


@dataclass(frozen=True)
class AnswerFailed:
    """Why the answer stopped; the last event of a failure."""

    error: CitestreamError


ChatEvent = AnswerStarted | AnswerDelta | AnswerSources | AnswerFailed


def cited_indexes(answer: str) -> set[int]:
    """The n of every `[n]` in the answer."""
    return {int(n) for n in _CITATION.findall(answer)}


def sources_from_nodes(nodes: list[NodeWithScore], answer: str) -> list[Source]:
    """Number the citation nodes as the prompt did (`Source 1`, ...) and mark the cited ones."""
    cited = cited_indexes(answer)
    sources = []
    for index, hit in enumerate(nodes, start=1):
        metadata = dict(hit.node.metadata)
        chunk_id = str(metadata.pop(CHUNK_ID_KEY, hit.node.node_id))
        text = _SOURCE_LABEL.sub("", hit.node.get_content()).strip()
        snippet = text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"
        page = metadata.get("page")
        sources.append(
            Source(
                index=index,
                node_id=chunk_id,
                document=str(metadata.get("file_name", "")),
                document_id=_optional_str(metadata.get("document_id")),
                title=_optional_str(metadata.get("title")),
                page=page if isinstance(page, int) else None,
                heading=_optional_str(metadata.get("heading")),
                text=snippet,
                score=hit.score,
                metadata=metadata,
                cited=index in cited,
            )
        )
    return sources


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)

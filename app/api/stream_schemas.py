"""The wire contract of a streamed answer: each SSE event's payload.

Every payload the server sends is built from these models, and `/openapi.json` publishes the
same models as the `contentSchema` of each event's `data` (app/api/openapi.py), so the
documentation and the stream cannot drift apart.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.core.citations import SNIPPET_CHARS, Citation


class MetaData(BaseModel):
    """`event: meta`, always first."""

    session_id: uuid.UUID
    message_id: uuid.UUID
    run_id: uuid.UUID | None = Field(
        default=None,
        description="The run writing this answer: follow it again with "
        "`GET /api/runs/{run_id}/events` (and `Last-Event-ID`), stop it with "
        "`POST /api/runs/{run_id}/cancel`.",
    )


class MessageData(BaseModel):
    """`event: message`: a piece of the answer (a token, or several joined)."""

    delta: str


class Source(BaseModel):
    """A numbered passage the answer may cite as `[index]`."""

    model_config = ConfigDict(from_attributes=True)

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

    @classmethod
    def of(cls, citation: Citation) -> Source:
        return cls.model_validate(citation)


class ErrorData(BaseModel):
    """`event: error`, the last event of a failed answer."""

    code: str = Field(
        description=(
            "Stable: llm_error, llm_timeout, retrieval_error, storage_busy, storage_error, "
            "timeout, conflict, cancelled, shutting_down, worker_lost, internal_error."
        )
    )
    message: str = Field(description="A sentence for people; never a stack trace.")

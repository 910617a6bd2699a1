"""Request and response bodies of the chat API, and the documented SSE event payloads."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from app.core.names import COLLECTION_NAME_PATTERN
from app.services.chat_events import Source


class ChatRequest(BaseModel):
    """A question, optionally continuing a conversation."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"query": "How do I cancel a stream?"}]},
    )

    query: str = Field(description="The question. Not blank; at most 4,000 characters by default.")
    session_id: uuid.UUID | None = Field(
        default=None,
        description="Continue this conversation. Omit to start one; `meta` returns its id.",
    )
    collection: str | None = Field(
        default=None,
        pattern=COLLECTION_NAME_PATTERN,
        description="The document collection to search. Omitted: the conversation's "
        "collection, or `default` for a new conversation.",
    )


class ChatAnswer(BaseModel):
    """A whole answer, for clients that do not stream."""

    answer: str
    sources: list[Source]
    session_id: uuid.UUID
    message_id: uuid.UUID


class MetaData(BaseModel):
    """`event: meta`, always first."""

    session_id: uuid.UUID
    message_id: uuid.UUID


class MessageData(BaseModel):
    """`event: message`, one per token or small group of tokens."""

    delta: str


class ErrorData(BaseModel):
    """`event: error`, the last event of a failed answer."""

    code: str = Field(
        description=(
            "Stable: llm_error, retrieval_error, storage_error, timeout, conflict, internal_error."
        )
    )
    message: str = Field(description="A sentence for people; never a stack trace.")


class Health(BaseModel):
    status: str
    documents: int = Field(description="Searchable documents, across every collection.")
    llm_provider: str
    retrieval: str = Field(description="lexical, dense or hybrid.")

"""Request and response bodies of the chat API."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from app.api.fields import NonBlankStr
from app.api.stream_schemas import Source
from app.core.names import COLLECTION_NAME_PATTERN


class ChatRequest(BaseModel):
    """A question, optionally continuing a conversation."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"query": "How do I cancel a stream?"}]},
    )

    query: NonBlankStr = Field(
        description="The question: not blank, no NUL; at most CITESTREAM_CHAT__MAX_QUERY_CHARS "
        "characters (4,000 by default) once trimmed."
    )
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

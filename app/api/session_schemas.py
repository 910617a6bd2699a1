"""Request and response bodies of the sessions API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.api.fields import NonBlankStr
from app.api.stream_schemas import Source


class _FromService(BaseModel):
    # Built from the service's dataclasses with `model_validate`.
    model_config = ConfigDict(from_attributes=True)


class SessionSummary(_FromService):
    """A conversation, as a list shows it."""

    id: uuid.UUID
    title: str | None = Field(description="The first question unless renamed.")
    collection: str | None = Field(
        description="The document collection its questions search unless one names another."
    )
    created_at: datetime
    updated_at: datetime = Field(description="When the session was last asked or renamed.")
    message_count: int = Field(description="Questions and answers, counted separately.")


class SessionPage(_FromService):
    """Sessions, most recently active first."""

    items: list[SessionSummary]
    total: int = Field(description="How many sessions there are in all.")
    limit: int
    offset: int


class SessionMessage(_FromService):
    """One question or answer."""

    id: uuid.UUID
    role: Literal["user", "assistant"]
    content: str
    status: Literal["streaming", "complete", "interrupted", "error"] = Field(
        description="`streaming` while the answer is being written; then how it ended."
    )
    sources: list[Source] | None = Field(description="The sources of an answer; null on questions.")
    error_code: str | None = Field(description="Why an answer failed (`status` is `error`).")
    token_count: int | None
    latency_ms: int | None = Field(description="From receiving the question to the answer's end.")
    created_at: datetime
    completed_at: datetime | None


class MessagePage(_FromService):
    """Messages in conversation order."""

    items: list[SessionMessage]
    total: int = Field(description="How many messages the session has in all.")
    limit: int
    offset: int


class SessionDetail(SessionSummary):
    """A conversation with one page of its messages."""

    messages: MessagePage


class SessionRename(BaseModel):
    """A new title."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"title": "Cancelling streams"}]}
    )

    title: NonBlankStr = Field(
        description="Not blank, no NUL; at most 200 characters once trimmed.",
        json_schema_extra={"maxLength": 200},
    )

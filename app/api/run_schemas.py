"""Request and response bodies of the runs API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.api.chat_schemas import ChatRequest


class RunRequest(ChatRequest):
    """A question to answer as a run."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"query": "How do I cancel a stream?"}]},
    )

    background: bool = Field(
        default=False,
        description="Keep answering with nobody listening. Otherwise a run nobody follows for "
        "CITESTREAM_RUNS__ORPHAN_GRACE_S (10 s) is cancelled.",
    )


class RunStarted(BaseModel):
    """A run that has started; follow `events_url`, stop it with `cancel_url`."""

    run_id: uuid.UUID
    session_id: uuid.UUID
    message_id: uuid.UUID = Field(description="The stored answer this run writes.")
    events_url: str
    cancel_url: str


class RunState(BaseModel):
    """Where a run stands."""

    model_config = ConfigDict(from_attributes=True)

    run_id: uuid.UUID
    session_id: uuid.UUID
    message_id: uuid.UUID
    status: Literal["running", "completed", "cancelled", "failed"]
    background: bool
    created_at: datetime
    first_token_at: datetime | None = Field(description="When the first piece of text was sent.")
    finished_at: datetime | None
    error_code: str | None = Field(
        description="Why it did not complete: cancelled, shutting_down, worker_lost, llm_error…"
    )


class RunList(BaseModel):
    """Runs, as a query selected them."""

    items: list[RunState]

"""Bodies of the health and readiness probes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Health(BaseModel):
    """The process is up; what it serves."""

    status: Literal["ok", "starting", "draining", "failed"] = Field(
        description="ok once the model and indexes are ready; starting while they load."
    )
    documents: int = Field(description="Searchable documents, across every collection.")
    llm_provider: str
    retrieval: str = Field(description="lexical, dense or hybrid.")


class Readiness(BaseModel):
    """Whether this instance takes new questions (for a load balancer)."""

    status: Literal["ready", "starting", "draining", "failed"]
    detail: str | None = Field(default=None, description="Why not, when it is not ready.")

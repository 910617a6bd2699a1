"""Bodies of the identity endpoints."""

import uuid

from pydantic import BaseModel, ConfigDict, Field


class StreamTokenRequest(BaseModel):
    """The run or the session the token is for (exactly one)."""

    # "Exactly one" in the published schema too, so clients (and schemathesis) see the rule
    # the server enforces: one of the two is a string, the other absent or null.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {"required": [name], "properties": {name: {"type": "string"}}}
                for name in ("run_id", "session_id")
            ]
        },
    )

    run_id: uuid.UUID | None = Field(default=None, description="For GET /api/runs/{run_id}/events.")
    session_id: uuid.UUID | None = Field(
        default=None, description="For GET /api/chat/stream?session_id=..."
    )


class StreamToken(BaseModel):
    """A short-lived token: append `access_token=<token>` to the stream's URL."""

    token: str
    expires_in_s: float = Field(description="Seconds the token stays valid.")

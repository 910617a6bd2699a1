"""Bodies of the identity endpoints."""

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


def _exactly_one_id(schema: dict[str, Any]) -> None:
    # Say in the schema what the validator enforces: one id, never null, nothing else.
    for name, field in schema["properties"].items():
        options = [o for o in field.pop("anyOf", []) if o.get("type") != "null"]
        if options:
            field.update(options[0])
        schema["properties"][name] = field
    schema["minProperties"] = schema["maxProperties"] = 1


class StreamTokenRequest(BaseModel):
    """The run or the session the token is for (exactly one)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_exactly_one_id)

    run_id: uuid.UUID | None = Field(default=None, description="For GET /api/runs/{run_id}/events.")
    session_id: uuid.UUID | None = Field(
        default=None, description="For GET /api/chat/stream?session_id=..."
    )

    @model_validator(mode="before")
    @classmethod
    def _one_id(cls, data: Any) -> Any:
        if isinstance(data, dict):
            named = [key for key, value in data.items() if value is not None]
            if len(data) != 1 or len(named) != 1:
                raise ValueError("Name exactly one of run_id and session_id.")
        return data


class StreamToken(BaseModel):
    """A short-lived token: append `access_token=<token>` to the stream's URL."""

    token: str
    expires_in_s: float = Field(description="Seconds the token stays valid.")

"""What `/openapi.json` says about streams and errors that FastAPI cannot infer by itself."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.api.problems import Problem, problem_response
from app.api.stream_schemas import STREAM_EVENTS

_EXAMPLE = (
    'id: 1\nevent: meta\ndata: {"session_id": "3f0c…", "message_id": "9a41…"}\n\n'
    'id: 2\nevent: message\ndata: {"delta": "Close"}\n\n'
    'id: 3\nevent: message\ndata: {"delta": " the connection [1]."}\n\n'
    'id: 4\nevent: source\ndata: [{"index": 1, "node_id": "…", "document": "cancellation.md", '
    '"text": "…", "score": 3.1, "metadata": {"title": "Cancellation"}, "cited": true}]\n\n'
)

STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "A `text/event-stream` of typed events, each with an increasing `id`: `meta` first, "
            "then `message` events as the model writes, then either `source` (always sent, "
            "`[]` when nothing was retrieved) or `error`. The schema describes one event as an "
            "SSE parser hands it over (`data` parsed as JSON). Heartbeat comments every 15 s by "
            "default (`CITESTREAM_CHAT__HEARTBEAT_S`). `X-Session-Id` and `X-Message-Id` "
            "headers carry the ids of `meta`. With `Accept: text/plain` (POST only) the answer "
            "streams as plain text followed by its cited sources."
        ),
        "content": {
            "text/event-stream": {
                "schema": {
                    "oneOf": [
                        {"$ref": f"#/components/schemas/{event.__name__}"}
                        for event in STREAM_EVENTS
                    ],
                    "discriminator": {"propertyName": "event"},
                },
                "example": _EXAMPLE,
            },
            "text/plain": {"schema": {"type": "string"}},
        },
    },
    404: problem_response("The session or the collection does not exist."),
    409: problem_response("The session is still answering another question."),
    422: problem_response("Invalid input: blank or too long query, bad JSON, bad id."),
}

ANSWER_ERRORS: dict[int | str, dict[str, Any]] = {
    **{code: STREAM_RESPONSES[code] for code in (404, 409, 422)},
    502: problem_response("The language model failed (code llm_error)."),
    503: problem_response("Retrieval or storage failed."),
    504: problem_response(
        "The model or the answer took longer than its limit (code llm_timeout or timeout)."
    ),
}


def publish_stream_schemas(app: FastAPI) -> None:
    """Add the stream's event models to the components of `/openapi.json`: they are not
    response models, so FastAPI would not list them."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        models: list[type[BaseModel]] = [*STREAM_EVENTS, Problem]
        _, definitions = models_json_schema(
            [(model, "serialization") for model in models],
            ref_template="#/components/schemas/{model}",
        )
        for name, definition in definitions.get("$defs", {}).items():
            components.setdefault(name, definition)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

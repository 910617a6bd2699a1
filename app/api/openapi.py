"""What `/openapi.json` says about streams and errors that FastAPI cannot infer by itself.

Every error is problem+json (app/api/problems.py). Routers name the statuses they can answer
with `problem_responses(...)`; `publish_contract` then makes the whole document tell the truth:
FastAPI's own 422 (`HTTPValidationError`, application/json) becomes the Problem it really is,
and the statuses that cross-cutting guards answer on every API route (credentials, admission,
readiness, body limits) are listed once here instead of in each router. Under `/v1/` the same
statuses are documented as OpenAI error objects, with 400 for 422 (app/api/openai_errors.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.api.openai_errors import document_openai_errors, speaks_openai
from app.api.openai_schemas import ChatCompletionChunk, OpenAIError
from app.api.openapi_links import add_links
from app.api.problems import PROBLEM_JSON, Problem
from app.api.stream_schemas import ErrorData, MessageData, MetaData, Source
from app.api.uploads import FILES_FIELD
from app.core.settings import Settings

Responses = dict[int | str, dict[str, Any]]

# What each status means, whichever route answers it; a router may say more.
PROBLEM_STATUSES: dict[int, str] = {
    401: "No valid credentials (code `unauthorized`).",
    404: "The resource does not exist (code `not_found`).",
    409: "The request clashes with the resource's current state (code `conflict`).",
    413: "The request or one of its files is over a size limit (code `payload_too_large`).",
    414: "The URL is longer than the server accepts (code `uri_too_long`).",
    415: "The body's media type is not accepted (code `unsupported_media_type`).",
    422: "Invalid input (code `invalid_input`): `errors` names each field and what is wrong.",
    429: "Over a rate or concurrency limit; retry after `Retry-After` seconds.",
    502: "The language model failed (code `llm_error`).",
    503: "Not now: starting, draining, over the server's capacity, or storage unavailable "
    "(`code` says which); retry after `Retry-After` seconds when present.",
    504: "The answer took longer than the limit (code `timeout`).",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Whole seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 1},
    }
}
# Answered by guards that sit in front of every route, every API route or every request body.
_EVERY_ROUTE = (414,)
_EVERY_API_ROUTE = (401, 429, 503)
_EVERY_REQUEST_BODY = (413, 415, 422)
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    """One OpenAPI response entry for an error answered as problem+json."""
    entry: dict[str, Any] = {
        "description": description or PROBLEM_STATUSES.get(status, "An error."),
        "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}},
    }
    if status in (429, 503):
        entry["headers"] = _RETRY_AFTER
    return entry


def problem_responses(*statuses: int, described: Mapping[int, str] | None = None) -> Responses:
    """Response entries for `statuses`, and for those of `described` in the route's own words."""
    responses: Responses = {status: problem_response(status) for status in statuses}
    for status, description in (described or {}).items():
        responses[status] = problem_response(status, description)
    return responses


def _event(name: str, data: dict[str, Any], description: str) -> dict[str, Any]:
    """One SSE event as a parser hands it over: its name, its id, and `data` as a string that
    holds JSON (`contentSchema` describes the JSON)."""
    return {
        "type": "object",
        "description": description,
        "required": ["event", "id", "data"],
        "properties": {
            "event": {"const": name},
            "id": {
                "type": "string",
                "description": "The event's number in its run (1, 2, 3...); on "
                "`GET /api/chat/stream`, `<run_id>:<number>`, so that a reconnecting "
                "EventSource finds the run again.",
            },
            "retry": {"type": "integer", "description": "Reconnection delay, in ms."},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": data,
            },
        },
    }


def _ref(model: type[BaseModel]) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


STREAM_EVENT_SCHEMAS: dict[str, dict[str, Any]] = {
    "MetaEvent": _event("meta", _ref(MetaData), "Always first: the ids of the answer."),
    "MessageEvent": _event("message", _ref(MessageData), "A piece of the answer."),
    "SourceEvent": _event(
        "source",
        {"type": "array", "items": _ref(Source)},
        "The last event of a successful answer: the sources (`[]` when nothing matched).",
    ),
    "ErrorEvent": _event("error", _ref(ErrorData), "The last event of a failed answer."),
}

_STREAM_DESCRIPTION = (
    "A `text/event-stream` of typed events, each with an increasing `id`: `meta` first, then "
    "`message` events as the model writes, then either `source` (always sent, `[]` when "
    "nothing was retrieved) or `error`. `itemSchema` describes one event as an SSE parser "
    "hands it over: `event`, `id`, and `data`, a JSON text (its `contentSchema`). Heartbeat "
    "comments every 15 s by default (`CITESTREAM_CHAT__HEARTBEAT_S`). `X-Session-Id`, "
    "`X-Message-Id` and `X-Run-Id` headers carry the ids of `meta`."
)
_EXAMPLE = (
    'id: 1\nevent: meta\ndata: {"session_id": "3f0c…", "message_id": "9a41…"}\n\n'
    'id: 2\nevent: message\ndata: {"delta": "Close"}\n\n'
    'id: 3\nevent: message\ndata: {"delta": " the connection [1]."}\n\n'
    'id: 4\nevent: source\ndata: [{"index": 1, "node_id": "…", "document": "cancellation.md", '
    '"text": "…", "score": 3.1, "metadata": {"title": "Cancellation"}, "cited": true}]\n\n'
)


def stream_response(*, plain_text: bool = False) -> dict[str, Any]:
    """The 200 of a streaming endpoint (with `plain_text`, also its `Accept: text/plain` form)."""
    content: dict[str, Any] = {
        "text/event-stream": {
            # OpenAPI 3.2's way to describe each item of a stream, as FastAPI's own SSE does.
            "itemSchema": {
                "oneOf": [{"$ref": f"#/components/schemas/{n}"} for n in STREAM_EVENT_SCHEMAS],
                "discriminator": {"propertyName": "event"},
            },
            "example": _EXAMPLE,
        }
    }
    description = _STREAM_DESCRIPTION
    if plain_text:
        content["text/plain"] = {"schema": {"type": "string"}}
        description += (
            " With `Accept: text/plain` the answer streams as plain text followed by its "
            "cited sources."
        )
    return {"description": description, "content": content}


# Refusals before a question's stream opens: unknown session or collection, busy session.
QUESTION_ERRORS: Responses = problem_responses(
    described={
        404: "The session or the collection does not exist.",
        409: "The session is still answering another question.",
        422: "Invalid input: blank or too long query, bad JSON, bad id, characters that cannot "
        "be stored (NUL, lone surrogates).",
    }
)
STREAM_RESPONSES: Responses = {200: stream_response(plain_text=True), **QUESTION_ERRORS}
ANSWER_ERRORS: Responses = {
    **QUESTION_ERRORS,
    **problem_responses(
        502, 503, described={504: "The model or the answer took too long (llm_timeout, timeout)."}
    ),
}


def _operations(schema: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method in ("get", "put", "post", "patch", "delete") and isinstance(operation, dict):
                yield path, operation


def _add_missing(responses: dict[str, Any], statuses: Iterable[int]) -> None:
    for status in statuses:
        responses.setdefault(str(status), problem_response(status))


def _no_null_parameters(operation: dict[str, Any]) -> None:
    # A parameter is present or absent; it cannot be null (FastAPI writes `X | None` as
    # `anyOf: [X, null]`, and a client would send null as an empty, invalid value).
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        options = [o for o in schema.get("anyOf", []) if o.get("type") != "null"]
        if "anyOf" in schema and len(options) == 1:
            del schema["anyOf"]
            schema.update(options[0])


def complete_error_responses(schema: dict[str, Any]) -> None:
    """Every error status of every operation documented as the problem+json it is."""
    for path, operation in _operations(schema):
        _no_null_parameters(operation)
        responses: dict[str, Any] = operation.setdefault("responses", {})
        _add_missing(responses, _EVERY_ROUTE)
        if path.startswith("/api/") or speaks_openai(path):
            _add_missing(responses, _EVERY_API_ROUTE)
        if "requestBody" in operation:
            _add_missing(responses, _EVERY_REQUEST_BODY)
        if operation.get("parameters"):
            _add_missing(responses, [422])
        for status, entry in responses.items():
            if not status.isdigit() or int(status) < 400:
                continue
            content: Mapping[str, Any] = entry.get("content") or {}
            # FastAPI's default 422 (HTTPValidationError as application/json) is not what the
            # server sends, and an entry without a schema says nothing: both become Problem.
            # (Only /readyz answers an error status with a JSON body of its own.)
            if status == "422" or not content.get(PROBLEM_JSON, content):
                entry["content"] = {PROBLEM_JSON: {"schema": _PROBLEM_REF}}
            if entry.get("description") == "Validation Error":  # FastAPI's words
                entry["description"] = PROBLEM_STATUSES[422]
        if speaks_openai(path):
            document_openai_errors(responses)
    components = schema.get("components", {}).get("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)


def apply_limits(schema: dict[str, Any], settings: Settings) -> None:
    """The limits that come from settings, where the schema's constraints can state them."""
    components = schema.get("components", {}).get("schemas", {})
    for name in ("ChatRequest", "RunRequest"):
        if name in components:
            components[name]["properties"]["query"]["maxLength"] = settings.chat.max_query_chars
    for parameter in schema["paths"]["/api/chat/stream"]["get"].get("parameters", []):
        if parameter["name"] == "query":
            parameter["schema"]["maxLength"] = settings.chat.max_query_chars
    upload = schema["paths"]["/api/documents"]["post"]["requestBody"]["content"]
    files = upload["multipart/form-data"]["schema"]["properties"][FILES_FIELD]
    files["maxItems"] = settings.ingestion.max_files_per_request


def publish_contract(app: FastAPI, settings: Settings) -> None:
    """Finish `/openapi.json`: the stream's event schemas and payload models, the Problem
    model, every error response as problem+json, and the limits the settings set."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        models: list[type[BaseModel]] = [
            MetaData, MessageData, Source, ErrorData, Problem, OpenAIError, ChatCompletionChunk
        ]  # fmt: skip
        _, definitions = models_json_schema(
            [(model, "serialization") for model in models],
            ref_template="#/components/schemas/{model}",
        )
        for name, definition in definitions.get("$defs", {}).items():
            components.setdefault(name, definition)
        components.update(STREAM_EVENT_SCHEMAS)
        complete_error_responses(schema)
        apply_limits(schema, settings)
        add_links(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

"""Errors under `/v1/` in OpenAI's shape: `{"error": {message, type, code, param}}`.

Every error is first rendered as problem+json (app/api/problems.py); for a request under `/v1/`
that problem is then retold here, so both dialects say the same thing with the same status
(but 422, which OpenAI clients know as 400) and keep Retry-After and WWW-Authenticate.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse

from app.api.openai_schemas import OpenAIError, OpenAIErrorDetail
from app.core.errors import CitestreamError, UnknownCollection

OPENAI_PREFIX = "/v1/"
# The request fields our errors name, in the OpenAI request's terms.
_PARAMS = {"query": "messages", "collection": "model"}
_KEPT_HEADERS = ("retry-after", "www-authenticate", "allow", "connection")
_ERROR_REF = {"$ref": "#/components/schemas/OpenAIError"}


def speaks_openai(path: str) -> bool:
    """Whether a request to `path` is answered in OpenAI's dialect."""
    return path.startswith(OPENAI_PREFIX)


def error_type(status: int) -> str:
    """OpenAI's `type` for an HTTP status."""
    if status >= 500:
        return "server_error"
    return {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}.get(
        status, "invalid_request_error"
    )


def openai_status(status: int) -> int:
    """OpenAI answers a request its schema refuses with 400, not 422."""
    return 400 if status == 422 else status


def error_detail(error: CitestreamError) -> OpenAIError:
    """A domain error as an OpenAI error body (also the last frame of a failed stream)."""
    return OpenAIError(
        error=OpenAIErrorDetail(
            message=error.message,
            type=error_type(openai_status(error.status)),
            code=error.code,
            param=None,
        )
    )


def retold(problem: JSONResponse, error: Exception | None = None) -> JSONResponse:
    """The problem+json response `problem` as the OpenAI error response it stands for."""
    body: dict[str, Any] = json.loads(bytes(problem.body))
    status = openai_status(problem.status_code)
    fields = [item.get("field") for item in body.get("errors") or [] if item.get("field")]
    code: str = body.get("code", "error")
    param = _PARAMS.get(fields[0], fields[0]) if fields else None
    if isinstance(error, UnknownCollection):
        code, param = "model_not_found", "model"
    detail = OpenAIErrorDetail(
        message=body.get("detail", body.get("title", "Error.")),
        type=error_type(status),
        code=code,
        param=param,
    )
    headers = {
        name: value for name, value in problem.headers.items() if name.lower() in _KEPT_HEADERS
    }
    return JSONResponse(OpenAIError(error=detail).model_dump(), status_code=status, headers=headers)


# A URL too long is refused before any route or handler runs (app/api/url_limit.py, and
# uvicorn's parser, app/server.py): problem+json whatever the path.
_ALWAYS_PROBLEM = "414"


def document_openai_errors(responses: dict[str, Any]) -> None:
    """A `/v1/` operation's error responses in `/openapi.json`: OpenAI errors, 400 not 422."""
    if "422" in responses:
        responses.setdefault("400", responses.pop("422"))
    for status, entry in responses.items():
        if status.isdigit() and int(status) >= 400 and status != _ALWAYS_PROBLEM:
            entry["content"] = {"application/json": {"schema": _ERROR_REF}}
    if "400" in responses:
        responses["400"]["description"] = (
            "Invalid request (type `invalid_request_error`); `param` names the field."
        )

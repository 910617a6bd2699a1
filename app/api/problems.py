"""Render every error once, as RFC 9457 `application/problem+json` (retold as OpenAI's error
objects for requests under `/v1/`, app/api/openai_errors.py)."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.openai_errors import retold, speaks_openai
from app.core.errors import CitestreamError

logger = logging.getLogger(__name__)

_NOT_JSON = "The request body is not valid JSON."
_NOT_JSON_ITEM = {"field": "body", "message": _NOT_JSON, "type": "json_invalid"}

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """An error, as RFC 9457 problem details."""

    type: str = Field(description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str = Field(description="What went wrong, for people.")
    code: str = Field(description="Stable, for programs: invalid_input, not_found, conflict, ...")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Per field, for invalid input: field, message, type."
    )


def problem_body(status: int, title: str, detail: str, code: str) -> dict[str, Any]:
    """The body of a problem without field errors (for answers built outside FastAPI)."""
    return {
        "type": f"https://citestream.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }


def url_too_long(limit: int) -> dict[str, Any]:
    """The problem of a URL over `CITESTREAM_SERVER__MAX_URL_CHARS`."""
    return problem_body(
        414,
        "URI too long",
        f"The URL is longer than {limit} characters (CITESTREAM_SERVER__MAX_URL_CHARS); send "
        "long input in a request body, such as POST /api/chat/stream.",
        "uri_too_long",
    )


def problem(
    status: int,
    title: str,
    detail: str,
    code: str,
    errors: list[dict[str, Any]] | None = None,
    *,
    retry_after_s: float | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = problem_body(status, title, detail, code)
    if errors:
        body["errors"] = errors
    headers = dict(headers or {})
    if retry_after_s is not None:
        headers["Retry-After"] = str(max(1, math.ceil(retry_after_s)))
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def domain_problem(error: CitestreamError) -> JSONResponse:
    """A domain error as its problem+json response."""
    response = problem(
        error.status,
        error.title,
        error.message,
        error.code,
        error.errors,
        retry_after_s=error.retry_after_s,
    )
    if error.status == 401:
        # RFC 9110: a 401 names the scheme that would work.
        response.headers["WWW-Authenticate"] = 'Bearer realm="citestream"'
    return response


async def _domain_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, CitestreamError)
    return domain_problem(error)


async def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [_describe(item) for item in error.errors()]
    if any(item["type"] == "json_invalid" for item in error.errors()):
        detail = _NOT_JSON
    else:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(422, "Invalid input", detail, "invalid_input", errors)


def _describe(item: Any) -> dict[str, Any]:
    # loc starts with where the value was (body, query, path, header); the rest names the field.
    parts = list(item["loc"])
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    location = [str(part) for part in parts]
    return {
        "field": ".".join(location) or "body",
        "message": item["msg"],
        "type": item["type"],
    }


# FastAPI answers a body it could not parse for another reason than bad JSON syntax (bytes that
# are not UTF-8, JSON nested deeper than the parser's recursion limit) with this 400.
_UNPARSABLE_BODY = "There was an error parsing the body"


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 400 and error.detail == _UNPARSABLE_BODY:
        # The same 422 as any other body that is not JSON, as documented.
        return problem(422, "Invalid input", _NOT_JSON, "invalid_input", [_NOT_JSON_ITEM])
    if error.status_code == 405:
        allowed = allowed_methods(request, error)
        detail = f"{request.method} is not allowed here; use {', '.join(allowed)}."
        return problem(
            405, "Method not allowed", detail, "method_not_allowed",
            headers={"Allow": ", ".join(allowed)},
        )  # fmt: skip
    title = {404: "Not found", 406: "Not acceptable"}.get(error.status_code, "HTTP error")
    code = title.lower().replace(" ", "_")
    return problem(error.status_code, title, str(error.detail), code, headers=error.headers)


def allowed_methods(request: Request, error: StarletteHTTPException) -> list[str]:
    """Every method the app takes at this path. Starlette's own `Allow` names only the methods
    of the first route that matched the path; the published paths name them all."""
    methods = {m.strip() for m in (error.headers or {}).get("Allow", "").split(",") if m.strip()}
    spec = request.app.openapi()
    for template, item in spec.get("paths", {}).items():
        if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), request.url.path):
            methods |= {method.upper() for method in item if method.upper() in _HTTP_METHODS}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


_HTTP_METHODS = {"GET", "PUT", "POST", "PATCH", "DELETE", "HEAD", "OPTIONS"}


async def _unexpected_error(_request: Request, error: Exception) -> JSONResponse:
    logger.exception("Unhandled error", exc_info=error)
    return problem(500, "Internal error", "Something went wrong on our side.", "internal_error")


Handler = Callable[[Request, Exception], Awaitable[JSONResponse]]


def _in_the_callers_dialect(handler: Handler) -> Handler:
    """The handler's problem, retold as an OpenAI error for a request under `/v1/`."""

    async def handle(request: Request, error: Exception) -> JSONResponse:
        response = await handler(request, error)
        return retold(response, error) if speaks_openai(request.url.path) else response

    return handle


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error response problem+json (OpenAI's error shape under `/v1/`), without
    internals."""
    handlers: dict[type[Exception], Handler] = {
        CitestreamError: _domain_error,
        RequestValidationError: _validation_error,
        StarletteHTTPException: _http_error,
        Exception: _unexpected_error,
    }
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, _in_the_callers_dialect(handler))

"""Render every error once, as RFC 9457 `application/problem+json`."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.errors import CitestreamError

logger = logging.getLogger(__name__)

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


def problem_response(description: str) -> dict[str, Any]:
    """An OpenAPI response entry for an error answered as problem+json."""
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def problem(
    status: int,
    title: str,
    detail: str,
    code: str,
    errors: list[dict[str, Any]] | None = None,
    *,
    retry_after_s: float | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://citestream.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    headers = None
    if retry_after_s is not None:
        headers = {"Retry-After": str(max(1, math.ceil(retry_after_s)))}
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
        detail = "The request body is not valid JSON."
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


async def _http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    title = {404: "Not found", 405: "Method not allowed", 406: "Not acceptable"}.get(
        error.status_code, "HTTP error"
    )
    code = title.lower().replace(" ", "_")
    return problem(error.status_code, title, str(error.detail), code)


async def _unexpected_error(_request: Request, error: Exception) -> JSONResponse:
    logger.exception("Unhandled error", exc_info=error)
    return problem(500, "Internal error", "Something went wrong on our side.", "internal_error")


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error response problem+json, without internals."""
    app.add_exception_handler(CitestreamError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)

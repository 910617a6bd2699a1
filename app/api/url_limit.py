"""Refuse a URL over the configured length with 414 problem+json, before any route runs.

uvicorn's HTTP parser takes URLs up to about 64 KB; anything longer it refuses itself (see
app/server.py for how that refusal is problem+json too). Below that, this middleware holds the
line at `CITESTREAM_SERVER__MAX_URL_CHARS`, so a query string cannot make a route parse,
validate and log a 60 KB value.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.problems import PROBLEM_JSON, url_too_long


class UrlLengthLimit:
    """Pure ASGI middleware: a request whose path and query exceed `limit` characters gets 414."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
            if length > self.limit:
                response = JSONResponse(
                    url_too_long(self.limit), status_code=414, media_type=PROBLEM_JSON
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

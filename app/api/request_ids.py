"""Every request gets an id: the caller's `X-Request-ID` when it is a sane token, else a new
one. It is bound for the request's log records (and those of the runs it starts) and sent back
in the `X-Request-ID` response header, so a user's report can be found in the logs."""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.log_context import bind_log_ids

REQUEST_ID_HEADER = "X-Request-ID"
# What a proxy or a client typically sends (a UUID, a trace id); anything else is replaced, so
# that a header cannot forge log lines or grow them without bound.
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestIdMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): streams pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        request_id = given if _SANE.fullmatch(given) else uuid.uuid4().hex
        bind_log_ids(request_id=request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        await self._app(scope, receive, send_with_id)

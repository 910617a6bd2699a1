"""A size limit on every request body, checked before the body is read.

Without it a JSON endpoint reads whatever it is sent: a 100 MB body raised the server's memory
by 230 MB before its 422. A body that declares a larger Content-Length is refused with 413 at
once; a chunked one is counted as it arrives and refused as soon as it passes the limit. Either
way the rest is never read and the connection is closed. Uploads are exempt: their parser has
its own, larger limits and counts the files as they stream in (app/api/uploads.py).
"""

from __future__ import annotations

from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.openai_errors import retold, speaks_openai
from app.api.problems import problem

SETTING = "CITESTREAM_LIMITS__MAX_BODY_BYTES"


class BodyLimit:
    """ASGI middleware: 413 problem+json for a body over `max_bytes`, unless the route
    (method, path) is in `exempt`."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, exempt: Collection[tuple[str, str]] = ()
    ) -> None:
        self._app = app
        self._max_bytes = max_bytes
        self._exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) in self._exempt:
            await self._app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self._max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        over = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._max_bytes:
                    # To the app, the client has gone: it stops reading and its answer (an
                    # error about a truncated body) is replaced by the 413 below.
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over and not started:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, counting_receive, guarded_send)
        except Exception:
            if not over or started:
                raise
        if over and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413,
            "Payload too large",
            f"The request body is larger than {self._max_bytes} bytes, the limit ({SETTING}).",
            "payload_too_large",
        )
        if speaks_openai(scope["path"]):
            response = retold(response)
        # The unread rest of the body makes the connection unusable for another request.
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None

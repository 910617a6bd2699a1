"""`/metrics` and the API docs behind a key, when the settings say so (`auth.protect_metrics`,
`auth.protect_docs`). They are not API routes, so a middleware guards them."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.identity import credentials_of
from app.api.problems import domain_problem
from app.core.errors import CitestreamError
from app.core.settings import AuthSettings
from app.services.auth import AuthService

_DOCS = ("/docs", "/redoc", "/openapi.json")


def guarded(path: str, settings: AuthSettings) -> bool:
    """Whether a request to `path` needs credentials beyond what its route asks for."""
    if settings.protect_metrics and path == "/metrics":
        return True
    return settings.protect_docs and any(
        path == prefix or path.startswith(prefix + "/") for prefix in _DOCS
    )


class GuardedPaths:
    """Authenticates requests to the guarded paths before they reach their route."""

    def __init__(
        self, app: ASGIApp, settings: AuthSettings, auth: Callable[[], AuthService]
    ) -> None:
        self._app = app
        self._settings = settings
        # Resolved per request: the service is built by the container once the app starts.
        self._auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and guarded(scope["path"], self._settings):
            request = Request(scope)
            try:
                await self._auth().authenticate(
                    credentials_of(request, self._settings.session_cookie)
                )
            except CitestreamError as error:
                await domain_problem(error)(scope, receive, send)
                return
        await self._app(scope, receive, send)

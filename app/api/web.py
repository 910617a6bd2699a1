"""The chat page: `GET /` and its static files, outside the API and its schema."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter, FastAPI
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

# Package data, shipped in the wheel with the code: nothing to build before serving the page.
STATIC_DIR = Path(__file__).resolve().parents[1] / "web" / "static"
STATIC_PATH = "/static"

# The page runs only its own modules: no inline script, nothing from elsewhere, no framing. An
# answer, snippet or file name that carried markup could therefore not run even if it got in.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidated on each load (ETag), so a new release's page and modules are never mixed.
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.api_route("/", methods=["GET", "HEAD"], response_class=FileResponse)
async def chat_page() -> FileResponse:
    """The chat page."""
    return FileResponse(STATIC_DIR / "index.html", headers=PAGE_HEADERS)


class PageFiles(StaticFiles):
    """The page's modules, styles and vendored libraries, with the page's headers."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(PAGE_HEADERS)
        return response


def install_page(app: FastAPI) -> None:
    """Serve the chat page at `/` and its files under `/static`."""
    app.include_router(router)
    app.mount(STATIC_PATH, PageFiles(directory=STATIC_DIR), name="static")

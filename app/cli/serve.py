"""`citestream serve`."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.running import configure_logging
from app.core.errors import CitestreamError
from app.core.settings import Settings


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8000).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Worker processes on the one port (default 1); more than one needs PostgreSQL "
            "and Redis.",
        ),
    ] = None,
) -> None:
    """Run the API server (SIGTERM drains answers in flight before it stops)."""
    settings = Settings()
    # Into the settings, not only to uvicorn: where the server listens decides whether it
    # requires API keys (beyond loopback it always does).
    settings.server.host = host or settings.server.host
    settings.server.port = port or settings.server.port
    settings.server.workers = workers or settings.server.workers
    configure_logging(settings)
    try:
        if settings.server.workers > 1:
            from app.workers.supervisor import serve_workers

            serve_workers(settings, host=settings.server.host, port=settings.server.port)
        else:
            from app.main import create_app
            from app.server import serve as run_server

            run_server(
                create_app(settings), settings, host=settings.server.host, port=settings.server.port
            )
    except CitestreamError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(code=1) from None

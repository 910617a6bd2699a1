"""What every command shares: running its coroutine, and logging."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Annotated, TypeVar

import typer

from app.core import logs
from app.core.errors import CitestreamError
from app.core.settings import Settings

T = TypeVar("T")

CollectionOption = Annotated[
    str, typer.Option("--collection", "-c", help="The document collection.")
]


def execute(work: Awaitable[T]) -> T:
    """Run a coroutine; a domain error becomes one line on stderr and exit code 1."""

    async def guarded() -> T:
        return await work

    try:
        return asyncio.run(guarded())
    except CitestreamError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(code=1) from None


def configure_logging(settings: Settings) -> None:
    """Log as the settings say, uvicorn included (see app/core/logs.py)."""
    logs.configure_logging(settings.server.log_level, settings.server.log_format)

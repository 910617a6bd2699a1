"""`citestream keys create|list|revoke`: the API keys that may call the server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from app.cli.running import execute
from app.core.settings import Settings

if TYPE_CHECKING:  # imported by the commands when they run (see app/cli/__init__.py)
    from app.services.keys import KeyService

keys_cli = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)


@asynccontextmanager
async def _keys() -> AsyncIterator[KeyService]:
    # Only the database: no index, no model.
    from app.container import Container
    from app.lifecycle import AppLifecycle

    container = Container(settings=Settings())
    async with AppLifecycle(container) as lifecycle:
        await lifecycle.open_storage()
        yield container.key_service()


@keys_cli.command("create")
def create_key(
    name: Annotated[str, typer.Option("--name", help="A name people recognise (unique).")],
    admin: Annotated[
        bool, typer.Option("--admin", help="Sees and manages what every key owns.")
    ] = False,
) -> None:
    """Create a key and print it (as the last line): it is shown only this once."""

    async def run() -> tuple[str, str]:
        async with _keys() as keys:
            row, key = await keys.create(name, admin=admin)
        role = "admin key" if row.admin else "key"
        return f"created {role} {row.name!r} (id {row.id}); it is shown only now:", key

    said, key = execute(run())
    typer.echo(said)
    typer.echo(key)


@keys_cli.command("list")
def list_keys() -> None:
    """List keys: id, name, prefix, role, created, revoked (never the keys themselves)."""

    async def run() -> list[str]:
        async with _keys() as keys:
            rows = await keys.list_keys()
        return [
            f"{row.id}  {row.name}  {row.prefix}…  {'admin' if row.admin else 'user'}  "
            f"created {row.created_at:%Y-%m-%d %H:%M}  "
            + ("active" if row.revoked_at is None else f"revoked {row.revoked_at:%Y-%m-%d %H:%M}")
            for row in rows
        ]

    for line in execute(run()):
        typer.echo(line)


@keys_cli.command("revoke")
def revoke_key(
    key: Annotated[str, typer.Argument(help="The key's name or id.")],
) -> None:
    """Revoke a key: servers refuse it within `CITESTREAM_AUTH__KEY_CACHE_TTL_S` (10 s)."""

    async def run() -> tuple[str, bool]:
        async with _keys() as keys:
            row = await keys.revoke(key)
            left = await keys.any_active()
        return f"revoked {row.name!r} (id {row.id})", left

    said, keys_left = execute(run())
    typer.echo(said)
    if not keys_left:
        # Keys are required while one is active: without any, a loopback server is open again.
        typer.echo(
            "warning: no active key is left, so a server on loopback without "
            "CITESTREAM_AUTH__REQUIRED=true is open to this machine again (local mode).",
            err=True,
        )

"""`citestream db upgrade|downgrade`."""

from __future__ import annotations

import typer

from app.core.settings import Settings

db_cli = typer.Typer(help="Manage the database schema.", no_args_is_help=True)


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from app.core.migrations import upgrade_to_head
    from app.core.startup import database_unusable

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        upgrade_to_head(settings.database.url)
    except Exception as error:
        raise database_unusable(error, settings.database.url) from None
    typer.echo("database schema is up to date")


@db_cli.command("downgrade")
def db_downgrade() -> None:
    """Remove every table the migrations created (all conversations and documents are lost)."""
    from app.core.migrations import downgrade_to_base
    from app.core.startup import database_unusable

    url = Settings().database.url
    try:
        downgrade_to_base(url)
    except Exception as error:
        raise database_unusable(error, url) from None
    typer.echo("database schema removed")

"""The `citestream` command: serve the API, ingest documents, manage the database schema."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from app.settings import Settings

cli = typer.Typer(
    help="Citestream: cited answers from your documents, streamed.", no_args_is_help=True
)
db_cli = typer.Typer(help="Manage the conversation database schema.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8000).")] = None,
) -> None:
    """Run the API server."""
    import uvicorn

    from app.main import create_app

    settings = Settings()
    logging.basicConfig(
        level=settings.server.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(
        create_app(settings),
        host=host or settings.server.host,
        port=port or settings.server.port,
        log_level=settings.server.log_level,
    )


@cli.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (.md, .txt).")],
) -> None:
    """Add documents to the knowledge base; unchanged files are skipped."""
    from app.retrieval.knowledge_base import KnowledgeBase

    settings = Settings()
    report = KnowledgeBase(settings.index_dir, settings.retrieval).ingest(paths)
    for path, reason in report.failed.items():
        typer.echo(f"failed    {path}: {reason}", err=True)
    typer.echo(
        f"added {len(report.added)}, updated {len(report.updated)}, "
        f"unchanged {len(report.unchanged)}, failed {len(report.failed)} "
        f"(index: {settings.index_dir})"
    )
    if report.failed and not (report.added or report.updated or report.unchanged):
        raise typer.Exit(code=1)


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from app.memory.migrations import upgrade_to_head

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_to_head(settings.database.url)
    typer.echo("database schema is up to date")


@db_cli.command("downgrade")
def db_downgrade() -> None:
    """Remove every table the migrations created (all conversations are lost)."""
    from app.memory.migrations import downgrade_to_base

    downgrade_to_base(Settings().database.url)
    typer.echo("database schema removed")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()

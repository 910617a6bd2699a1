"""The `citestream` command: serve the API, ingest and manage documents, evaluate retrieval,
manage the schema. Each command imports what it needs when it runs, so `--help` is instant."""

from __future__ import annotations

import sys

import typer

from app.cli.database import db_cli
from app.cli.documents import delete_document, documents_cli, ingest, list_documents, reembed
from app.cli.evaluate import evaluate
from app.cli.keys import keys_cli
from app.cli.serve import serve

cli = typer.Typer(
    help="Citestream: cited answers from your documents, streamed.", no_args_is_help=True
)
cli.command()(serve)
cli.command()(ingest)
cli.command()(reembed)
cli.command()(evaluate)
cli.add_typer(documents_cli, name="documents")
cli.add_typer(db_cli, name="db")
cli.add_typer(keys_cli, name="keys")

__all__ = ["cli", "delete_document", "list_documents", "main"]


def main() -> None:
    """Run the command; a bad setting or a start-up failure is one line on stderr, exit 1."""
    from pydantic import ValidationError

    from app.core.errors import CitestreamError

    try:
        cli()
    except ValidationError as error:
        from app.core.startup import invalid_settings  # SQLAlchemy's URL parser: only here

        typer.echo(f"error: {invalid_settings(error).message}", err=True)
        sys.exit(1)
    except CitestreamError as error:
        typer.echo(f"error: {error.message}", err=True)
        sys.exit(1)

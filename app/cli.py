"""The `citestream` command: serve the API, ingest and manage documents, manage the schema."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from app.core.errors import CitestreamError
from app.core.names import DEFAULT_COLLECTION
from app.core.settings import Settings
from app.runtime import incoming, running_container

T = TypeVar("T")

cli = typer.Typer(
    help="Citestream: cited answers from your documents, streamed.", no_args_is_help=True
)
db_cli = typer.Typer(help="Manage the database schema.", no_args_is_help=True)
documents_cli = typer.Typer(help="List and delete ingested documents.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(documents_cli, name="documents")

CollectionOption = Annotated[
    str, typer.Option("--collection", "-c", help="The document collection.")
]


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8000).")] = None,
) -> None:
    """Run the API server."""
    import uvicorn

    from app.main import create_app

    settings = Settings()
    _configure_logging(settings)
    uvicorn.run(
        create_app(settings),
        host=host or settings.server.host,
        port=port or settings.server.port,
        log_level=settings.server.log_level,
    )


@cli.command()
def ingest(
    paths: Annotated[
        list[str],
        typer.Argument(help="Files, folders (searched recursively) or quoted globs ('**/*.md')."),
    ],
    collection: CollectionOption = DEFAULT_COLLECTION,
) -> None:
    """Add Markdown, text, HTML and PDF files to a collection; unchanged files are skipped.

    Exits with 1 when any file failed.
    """
    from app.core.names import check_collection_name
    from app.ingestion.paths import expand

    try:
        check_collection_name(collection)
    except CitestreamError as error:
        raise typer.BadParameter(error.message, param_hint="--collection") from None
    settings = Settings()
    expansion = expand(paths)
    failed = dict(expansion.failed)
    counts = {"added": 0, "updated": 0, "unchanged": 0}

    async def run() -> None:
        from rich.progress import Progress

        async with running_container(settings) as container:
            service = container.ingest_service()
            with Progress(transient=True) as progress:
                task = progress.add_task("Ingesting", total=len(expansion.files))
                for found in expansion.files:
                    progress.update(task, description=found.name)
                    try:
                        result = await service.ingest_one(
                            incoming(found.path, found.name), collection
                        )
                        counts[result.outcome.value] += 1
                    except CitestreamError as error:
                        if error.status >= 500:
                            raise  # the database, Qdrant or the embedding model: stop here
                        failed[str(found.path)] = getattr(error, "reason", error.message)
                    progress.advance(task)

    _run(run())
    for path, reason in failed.items():
        typer.echo(f"failed    {path}: {reason}", err=True)
    typer.echo(
        f"added {counts['added']}, updated {counts['updated']}, "
        f"unchanged {counts['unchanged']}, failed {len(failed)} (collection {collection!r})"
    )
    if failed:
        raise typer.Exit(code=1)


@documents_cli.command("list")
def list_documents(
    collection: Annotated[
        str | None, typer.Option("--collection", "-c", help="Only this collection.")
    ] = None,
) -> None:
    """List documents: id, collection, name, chunks, title."""

    async def run() -> None:
        async with running_container(Settings()) as container:
            service = container.document_service()
            offset = 0
            while True:
                page = await service.list_documents(collection, 100, offset)
                for doc in page.items:
                    typer.echo(
                        f"{doc.id}  {doc.collection}  {doc.name}  "
                        f"{doc.chunk_count} chunks  {doc.title}"
                    )
                offset += len(page.items)
                if not page.items or offset >= page.total:
                    return

    _run(run())


@documents_cli.command("delete")
def delete_document(
    document: Annotated[str, typer.Argument(help="The document's id, or its name.")],
    collection: CollectionOption = DEFAULT_COLLECTION,
) -> None:
    """Delete a document; answers stop citing it at once."""

    async def run() -> str:
        async with running_container(Settings()) as container:
            service = container.document_service()
            try:
                document_id = uuid.UUID(document)
            except ValueError:
                document_id = (await service.find(collection, document)).id
            deleted = await service.delete(document_id)
            return f"deleted {deleted.name} ({deleted.id}) from {deleted.collection!r}"

    typer.echo(_run(run()))


@cli.command()
def reembed() -> None:
    """Embed every document's chunks again, after turning on or changing the embedding model."""

    async def run() -> int:
        from rich.progress import Progress

        async with running_container(Settings()) as container:
            with Progress(transient=True) as progress:
                task = progress.add_task("Embedding", total=None)
                return await container.reembedding_service().reembed(
                    lambda done: progress.advance(task, done)
                )

    typer.echo(f"embedded {_run(run())} chunks")


@cli.command()
def evaluate(
    corpus: Annotated[Path, typer.Option(help="Folder of documents.")] = Path("samples/corpus"),
    questions: Annotated[Path, typer.Option(help="Labelled questions (JSON Lines).")] = Path(
        "samples/retrieval-eval.jsonl"
    ),
    mode: Annotated[
        list[str] | None,
        typer.Option(help="lexical, dense, hybrid (repeatable); default: all available."),
    ] = None,
) -> None:
    """Score retrieval (hit@k, MRR) on labelled questions, in a throwaway knowledge base."""
    import tempfile

    from app.evaluation import evaluate_corpus, format_results
    from app.retrieval.search import RetrievalMode

    settings = Settings()
    dense_available = settings.embeddings.provider != "none"
    names = mode or (["lexical", "dense", "hybrid"] if dense_available else ["lexical"])
    known: dict[str, RetrievalMode] = {"lexical": "lexical", "dense": "dense", "hybrid": "hybrid"}
    for name in names:
        if name not in known:
            raise typer.BadParameter(f"unknown mode {name!r}", param_hint="--mode")
        if name != "lexical" and not dense_available:
            raise typer.BadParameter(
                f"{name} needs CITESTREAM_EMBEDDINGS__PROVIDER", param_hint="--mode"
            )
    modes = [known[name] for name in names]
    with tempfile.TemporaryDirectory(prefix="citestream-eval-") as scratch:
        settings.data_dir = Path(scratch)
        settings.database.url = f"sqlite+aiosqlite:///{Path(scratch) / 'eval.db'}"
        settings.qdrant.url = ""
        results = _run(evaluate_corpus(settings, corpus, questions, modes))
    typer.echo(format_results(results))


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from app.core.migrations import upgrade_to_head

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_to_head(settings.database.url)
    typer.echo("database schema is up to date")


@db_cli.command("downgrade")
def db_downgrade() -> None:
    """Remove every table the migrations created (all conversations and documents are lost)."""
    from app.core.migrations import downgrade_to_base

    downgrade_to_base(Settings().database.url)
    typer.echo("database schema removed")


def _run(work: Awaitable[T]) -> T:
    """Run a coroutine; a domain error becomes one line on stderr and exit code 1."""

    async def guarded() -> T:
        return await work

    try:
        return asyncio.run(guarded())
    except CitestreamError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(code=1) from None


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.server.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )


def main() -> None:
    cli()


if __name__ == "__main__":
    main()

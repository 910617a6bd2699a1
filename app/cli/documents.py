"""`citestream ingest`, `documents list|delete` and `reembed`: the knowledge base from the
command line."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer

from app.cli.running import CollectionOption, execute
from app.core.errors import CitestreamError
from app.core.names import DEFAULT_COLLECTION
from app.core.principals import LOCAL_PRINCIPAL
from app.core.settings import Settings

documents_cli = typer.Typer(help="List and delete ingested documents.", no_args_is_help=True)


def ingest(
    paths: Annotated[
        list[str],
        typer.Argument(help="Files, folders (searched recursively) or quoted globs ('**/*.md')."),
    ],
    collection: CollectionOption = DEFAULT_COLLECTION,
    owner: Annotated[
        str | None,
        typer.Option(
            help="The API key (name or id) whose holder owns a new collection; by default the "
            "local user, so only admin keys see it once keys are required."
        ),
    ] = None,
) -> None:
    """Add Markdown, text, HTML and PDF files to a collection; unchanged files are skipped.

    Exits with 1 when any file failed.
    """
    from app.cli.local_files import incoming
    from app.core.names import check_collection_name
    from app.ingestion.paths import expand
    from app.lifecycle import running_container

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
            principal = await container.key_service().owner_named(owner)
            with Progress(transient=True) as progress:
                task = progress.add_task("Ingesting", total=len(expansion.files))
                for found in expansion.files:
                    progress.update(task, description=found.name)
                    try:
                        result = await service.ingest_one(
                            incoming(found.path, found.name), collection, principal
                        )
                        counts[result.outcome.value] += 1
                    except CitestreamError as error:
                        if error.status >= 500:
                            raise  # the database, Qdrant or the embedding model: stop here
                        failed[str(found.path)] = getattr(error, "reason", error.message)
                    progress.advance(task)

    execute(run())
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
        from app.lifecycle import running_container

        async with running_container(Settings()) as container:
            service = container.document_service()
            offset = 0
            while True:
                # The command line is the operator: every principal's documents.
                page = await service.list_documents(collection, 100, offset, LOCAL_PRINCIPAL)
                for doc in page.items:
                    typer.echo(
                        f"{doc.id}  {doc.collection}  {doc.name}  "
                        f"{doc.chunk_count} chunks  {doc.title}"
                    )
                offset += len(page.items)
                if not page.items or offset >= page.total:
                    return

    execute(run())


@documents_cli.command("delete")
def delete_document(
    document: Annotated[str, typer.Argument(help="The document's id, or its name.")],
    collection: CollectionOption = DEFAULT_COLLECTION,
) -> None:
    """Delete a document; answers stop citing it at once."""

    async def run() -> str:
        from app.lifecycle import running_container

        async with running_container(Settings()) as container:
            service = container.document_service()
            try:
                document_id = uuid.UUID(document)
            except ValueError:
                document_id = (await service.find(collection, document)).id
            deleted = await service.delete(document_id, LOCAL_PRINCIPAL)
            return f"deleted {deleted.name} ({deleted.id}) from {deleted.collection!r}"

    typer.echo(execute(run()))


def reembed() -> None:
    """Embed every document's chunks again, after turning on or changing the embedding model."""

    async def run() -> int:
        from rich.progress import Progress

        from app.lifecycle import running_container

        async with running_container(Settings()) as container:
            with Progress(transient=True) as progress:
                task = progress.add_task("Embedding", total=None)
                return await container.reembedding_service().reembed(
                    lambda done: progress.advance(task, done)
                )

    typer.echo(f"embedded {execute(run())} chunks")

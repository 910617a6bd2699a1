"""`citestream evaluate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli.running import execute
from app.core.settings import Settings


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

    from app.cli.evaluation import evaluate_corpus, format_results
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
        results = execute(evaluate_corpus(settings, corpus, questions, modes))
    typer.echo(format_results(results))

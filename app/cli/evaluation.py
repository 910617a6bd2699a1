"""Evaluate retrieval end to end: ingest a corpus into a fresh knowledge base, then score each
retrieval mode on labelled questions (`citestream evaluate`, the benchmark and the tests)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from llama_index.core.schema import NodeWithScore

from app.cli.local_files import ingest_paths
from app.container import Container
from app.core.names import DEFAULT_COLLECTION
from app.core.settings import Settings
from app.lifecycle import running_container
from app.retrieval.scoring import EvaluationReport, evaluate, load_questions
from app.retrieval.search import KnowledgeSearch, RetrievalMode

# Deep enough to score hit@10 and MRR@10.
EVALUATION_DEPTH = 10


@dataclass(frozen=True)
class ModeResult:
    """One retrieval mode's scores and how long its searches took."""

    mode: RetrievalMode
    report: EvaluationReport
    seconds_per_question: float


async def evaluate_corpus(
    settings: Settings, corpus: Path, questions_file: Path, modes: list[RetrievalMode]
) -> list[ModeResult]:
    """Ingest `corpus` into `settings.data_dir` (which should be empty) and score `modes`."""
    settings.retrieval.top_k = EVALUATION_DEPTH
    questions = load_questions(questions_file)
    async with running_container(settings) as container:
        await ingest_paths(container, [corpus])
        results = []
        for mode in modes:
            search = search_in_mode(container, mode)

            async def ask(question: str, search: KnowledgeSearch = search) -> list[NodeWithScore]:
                return await search.search(question, DEFAULT_COLLECTION)

            await ask("warm up")  # builds the lexical index and loads the embedding model
            started = time.perf_counter()
            report = await evaluate(ask, questions)
            elapsed = (time.perf_counter() - started) / max(1, len(questions))
            results.append(ModeResult(mode, report, elapsed))
        return results


def format_results(results: list[ModeResult]) -> str:
    """A Markdown table of the scores, overall and per question kind."""
    if not results:
        return ""
    ks = results[0].report.ks
    header = (
        "| mode | questions | " + " | ".join(f"hit@{k}" for k in ks) + " | MRR@10 | ms/question |"
    )
    lines = [header, "|" + "---|" * (len(ks) + 4)]
    for result in results:
        report = result.report
        for label, scores in [("all", report.overall), *sorted(report.by_kind.items())]:
            cells = " | ".join(f"{scores.hit_at(k):.2f}" for k in ks)
            lines.append(
                f"| {result.mode} ({label}) | {scores.count} | {cells} | {scores.mrr:.3f} | "
                f"{result.seconds_per_question * 1000:.1f} |"
            )
    return "\n".join(lines)


def search_in_mode(container: Container, mode: RetrievalMode) -> KnowledgeSearch:
    """A KnowledgeSearch over the container's indexes in `mode`, whatever the settings say
    (to compare modes on one knowledge base)."""
    return KnowledgeSearch(
        chunks=container.chunk_lookup(),
        lexical=container.lexical_index(),
        dense=container.vector_index(),
        settings=container.settings().retrieval,
        mode=mode,
        llm=container.llm(),
    )

"""Ingestion throughput and retrieval latency at 1k, 10k and 100k chunks. Prints numbers.

Documents are synthetic (sections of sentences drawn from the sample corpus and the docs, each
document made unique by its own code words), ingested through the real IngestService into
SQLite (and, with an embedding model, embedded Qdrant). Each size is reached by ingesting more
documents into the same knowledge base. At each size:

- ingestion throughput: chunks per second for the documents added to reach it (reading,
  chunking, storing, and embedding + upserting vectors when dense retrieval is on);
- the BM25 rebuild the first search after a change pays;
- search latency p50/p99 for each retrieval mode, `KnowledgeSearch.search` end to end (BM25 or
  query embedding + Qdrant, then loading the live chunks from the database), over the 73
  labelled sample questions, cycled.

Lexical always runs. Dense and hybrid run when an embedding model is configured, e.g.
`CITESTREAM_EMBEDDINGS__PROVIDER=local` with the local-embeddings extra installed.

Usage: `uv run python -m bench.retrieval [--sizes 1000,10000,100000] [--queries 200]`.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import random
import re
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from app.cli.evaluation import search_in_mode
from app.container import Container
from app.core.names import DEFAULT_COLLECTION
from app.core.principals import LOCAL_PRINCIPAL
from app.core.settings import Settings
from app.lifecycle import running_container
from app.retrieval.scoring import load_questions
from app.retrieval.search import KnowledgeSearch, RetrievalMode
from app.services.ingest import IncomingFile

PROJECT = Path(__file__).resolve().parents[1]
SECTIONS_PER_DOCUMENT = 6
SENTENCES_PER_SECTION = 14


def _sentence_pool() -> list[str]:
    texts = [p.read_text() for p in (PROJECT / "samples" / "corpus").glob("*.md")]
    texts += [p.read_text() for p in (PROJECT / "docs").glob("*.md")]
    sentences: list[str] = []
    for text in texts:
        for line in text.splitlines():
            if line.strip() and not line.startswith(("#", "|", "```", "-", "*")):
                sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+", line) if len(s) > 30]
    return sentences


def _document(number: int, pool: list[str], chance: random.Random) -> str:
    parts = [f"# Synthetic document {number}\n"]
    for section in range(SECTIONS_PER_DOCUMENT):
        parts.append(f"\n## Topic {number}-{section}\n")
        sentences = chance.sample(pool, SENTENCES_PER_SECTION)
        sentences.append(f"Reference code zx{number}q{section} applies here.")
        parts.append(" ".join(sentences) + "\n")
    return "".join(parts)


@dataclass
class Row:
    size: int
    ingest_chunks_per_s: float
    rebuild_s: float
    latencies: dict[RetrievalMode, tuple[float, float]]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def _chunk_total(container: Container) -> int:
    return sum(
        c.chunk_count for c in await container.document_service().list_collections(LOCAL_PRINCIPAL)
    )


async def _grow_to(container: Container, size: int, pool: list[str], start: int) -> tuple[int, int]:
    """Ingest documents until the knowledge base holds `size` chunks; (next number, chunks)."""
    service = container.ingest_service()
    chance = random.Random(start)
    number = start
    total = await _chunk_total(container)
    while total < size:
        data = _document(number, pool, chance).encode()
        result = await service.ingest_one(
            IncomingFile(f"synthetic-{number:06d}.md", len(data), functools.partial(bytes, data)),
            DEFAULT_COLLECTION,
            LOCAL_PRINCIPAL,
        )
        total += result.document.chunk_count
        number += 1
    return number, total


async def _latencies(search: KnowledgeSearch, questions: list[str], count: int) -> list[float]:
    times = []
    for index in range(count):
        started = time.perf_counter()
        await search.search(questions[index % len(questions)], DEFAULT_COLLECTION)
        times.append((time.perf_counter() - started) * 1000)
    return times


async def run(sizes: list[int], queries: int) -> list[Row]:
    settings = Settings()
    modes: list[RetrievalMode] = ["lexical"]
    if settings.embeddings.provider != "none":
        modes += ["dense", "hybrid"]
    questions = [q.question for q in load_questions(PROJECT / "samples" / "retrieval-eval.jsonl")]
    pool = _sentence_pool()
    rows = []
    with tempfile.TemporaryDirectory(prefix="citestream-bench-") as scratch:
        settings.data_dir = Path(scratch)
        settings.database.url = f"sqlite+aiosqlite:///{Path(scratch) / 'bench.db'}"
        settings.qdrant.url = ""
        async with running_container(settings) as container:
            searches = {mode: search_in_mode(container, mode) for mode in modes}
            number, total = 0, 0
            for size in sizes:
                before, started = total, time.perf_counter()
                number, total = await _grow_to(container, size, pool, number)
                ingest_rate = (total - before) / (time.perf_counter() - started)
                started = time.perf_counter()
                await container.lexical_index().warm(DEFAULT_COLLECTION)
                rebuild = time.perf_counter() - started
                latencies: dict[RetrievalMode, tuple[float, float]] = {}
                for mode, search in searches.items():
                    await _latencies(search, questions, 3)  # warm caches and models
                    times = await _latencies(search, questions, queries)
                    latencies[mode] = (statistics.median(times), _percentile(times, 0.99))
                rows.append(Row(total, ingest_rate, rebuild, latencies))
                _print_row(rows[-1], modes)
    return rows


def _print_row(row: Row, modes: list[RetrievalMode]) -> None:
    cells = " | ".join(f"{row.latencies[m][0]:.1f} / {row.latencies[m][1]:.1f}" for m in modes)
    print(
        f"| {row.size:,} | {row.ingest_chunks_per_s:,.0f} | {row.rebuild_s:.2f} | {cells} |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    settings = Settings()
    modes = ["lexical"] + (["dense", "hybrid"] if settings.embeddings.provider != "none" else [])
    print(f"embedding model: {settings.embeddings.provider} {settings.embeddings.model}".strip())
    print(
        "| chunks | ingest chunks/s | BM25 rebuild s | "
        + " | ".join(f"{m} p50 / p99 ms" for m in modes)
        + " |"
    )
    print("|" + "---|" * (3 + len(modes)))
    asyncio.run(run([int(size) for size in args.sizes.split(",")], args.queries))


if __name__ == "__main__":
    main()

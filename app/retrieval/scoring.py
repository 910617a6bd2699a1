"""Retrieval quality, measured: hit@k and MRR over a labelled set of questions.

Each labelled question names the document that answers it and a verbatim evidence span; a
retrieved passage is a hit when it comes from that document (and page, for a PDF) and
contains the evidence, compared case-insensitively with whitespace collapsed.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from llama_index.core.schema import NodeWithScore

DEFAULT_KS = (1, 3, 5, 10)


@dataclass(frozen=True)
class LabelledQuestion:
    """A question and where its answer is."""

    id: str
    question: str
    document: str
    evidence: str
    page: int | None
    kind: str


@dataclass
class Scores:
    """hit@k and mean reciprocal rank over some questions."""

    count: int = 0
    hits: dict[int, int] = field(default_factory=dict)
    reciprocal_ranks: float = 0.0

    def add(self, rank: int | None, ks: Sequence[int]) -> None:
        self.count += 1
        for k in ks:
            self.hits[k] = self.hits.get(k, 0) + int(rank is not None and rank <= k)
        self.reciprocal_ranks += 0.0 if rank is None else 1.0 / rank

    def hit_at(self, k: int) -> float:
        return self.hits.get(k, 0) / self.count if self.count else 0.0

    @property
    def mrr(self) -> float:
        return self.reciprocal_ranks / self.count if self.count else 0.0


@dataclass
class EvaluationReport:
    """Scores over every question and per kind (lexical, paraphrase), and the misses."""

    ks: Sequence[int]
    overall: Scores = field(default_factory=Scores)
    by_kind: dict[str, Scores] = field(default_factory=dict)
    ranks: dict[str, int | None] = field(default_factory=dict)


def load_questions(path: Path) -> list[LabelledQuestion]:
    """The labelled questions of a JSON Lines file."""
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            questions.append(
                LabelledQuestion(
                    id=item["id"],
                    question=item["question"],
                    document=item["document"],
                    evidence=item["evidence"],
                    page=item.get("page"),
                    kind=item.get("kind", "lexical"),
                )
            )
    return questions


def is_hit(passage: NodeWithScore, question: LabelledQuestion) -> bool:
    """Whether a passage is the labelled answer."""
    metadata = passage.node.metadata
    if metadata.get("file_name") != question.document:
        return False
    if question.page is not None and metadata.get("page") != question.page:
        return False
    return _normalized(question.evidence) in _normalized(passage.node.get_content())


def rank_of_answer(passages: Sequence[NodeWithScore], question: LabelledQuestion) -> int | None:
    """The 1-based rank of the first passage that answers, or None."""
    for rank, passage in enumerate(passages, start=1):
        if is_hit(passage, question):
            return rank
    return None


async def evaluate(
    search: Callable[[str], Awaitable[list[NodeWithScore]]],
    questions: Sequence[LabelledQuestion],
    ks: Sequence[int] = DEFAULT_KS,
) -> EvaluationReport:
    """Ask every question through `search` and score where the answer ranked."""
    report = EvaluationReport(ks=ks)
    for question in questions:
        rank = rank_of_answer(await search(question.question), question)
        report.ranks[question.id] = rank
        report.overall.add(rank, ks)
        report.by_kind.setdefault(question.kind, Scores()).add(rank, ks)
    return report


def _normalized(text: str) -> str:
    return " ".join(text.lower().split())

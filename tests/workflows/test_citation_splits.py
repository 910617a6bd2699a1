"""Splitting passages into citations: the remembered split is the split."""

from __future__ import annotations

from llama_index.core.node_parser import SentenceSplitter

from app.workflows.citation_splits import RememberingSentenceSplitter

TEXT = " ".join(f"Sentence number {n} says something about streams." for n in range(60))


def test_a_remembered_split_is_the_splitters_own() -> None:
    remembering = RememberingSentenceSplitter(chunk_size=64, chunk_overlap=8)
    plain = SentenceSplitter(chunk_size=64, chunk_overlap=8)

    first, again = remembering.split_text(TEXT), remembering.split_text(TEXT)

    assert first == again == plain.split_text(TEXT)
    assert len(first) > 1
    first.clear()  # a caller's list is its own
    assert remembering.split_text(TEXT) == plain.split_text(TEXT)


def test_each_text_is_split_once() -> None:
    remembering = RememberingSentenceSplitter(chunk_size=64, chunk_overlap=8)
    for _ in range(3):
        remembering.split_text(TEXT)
        remembering.split_text(TEXT + " One more.")

    assert remembering._pieces_of.cache_info().misses == 2  # type: ignore[attr-defined]

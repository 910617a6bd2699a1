"""Splitting a parsed document into sentence-aware chunks that stay within one section."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from app.core.chunks import ChunkDraft, index_text
from app.core.settings import IngestionSettings
from app.ingestion.chunking import Chunker
from app.ingestion.readers import PDF, ParsedDocument, Section, parse

SMALL = IngestionSettings(chunk_size=64, chunk_overlap=8)


def _sentences(topic: str, count: int) -> list[str]:
    return [
        f"{topic} sentence number {i} talks about {topic} things at length." for i in range(count)
    ]


def _pages_document() -> ParsedDocument:
    return ParsedDocument(
        "Field notes",
        PDF,
        [
            Section(" ".join(_sentences("Apple", 12)), page=1),
            Section(" ".join(_sentences("Boat", 12)), page=2),
            Section(" ".join(_sentences("Cloud", 3)), page=4),
        ],
        page_count=4,
    )


def _split(document: ParsedDocument) -> list[ChunkDraft]:
    return Chunker(SMALL).split(document)


def test_long_section_becomes_several_chunks() -> None:
    document = ParsedDocument("Notes", PDF, [Section(" ".join(_sentences("Apple", 12)), page=1)])

    chunks = _split(document)

    assert len(chunks) > 1
    assert all(chunk.text for chunk in chunks)


def test_seq_numbers_run_through_the_whole_document() -> None:
    chunks = _split(_pages_document())

    # Pages 1 and 2 are each split, so numbering must carry on across sections.
    assert len(chunks) > len(_pages_document().sections)
    assert [chunk.seq for chunk in chunks] == list(range(len(chunks)))
    pages = [chunk.page or 0 for chunk in chunks]
    assert pages == sorted(pages)


def test_every_chunk_keeps_its_page_and_holds_text_from_that_page_only() -> None:
    topic_of_page = {1: "Apple", 2: "Boat", 4: "Cloud"}

    chunks = _split(_pages_document())

    assert {chunk.page for chunk in chunks} == set(topic_of_page)
    for chunk in chunks:
        assert chunk.page is not None
        topics = set(re.findall(r"\b(Apple|Boat|Cloud)\b", chunk.text))
        assert topics == {topic_of_page[chunk.page]}, chunk


def test_every_chunk_keeps_its_heading_and_holds_text_from_that_section_only() -> None:
    markdown = (
        "# Manual\n\n"
        "## Install\n\n" + " ".join(_sentences("Apple", 10)) + "\n\n"
        "## Upgrade\n\n" + " ".join(_sentences("Boat", 10)) + "\n"
    )
    topic_of_heading = {"Manual > Install": "Apple", "Manual > Upgrade": "Boat"}

    chunks = _split(parse("manual.md", markdown.encode()))

    assert {chunk.heading for chunk in chunks} == set(topic_of_heading)
    for chunk in chunks:
        assert chunk.heading is not None
        topics = set(re.findall(r"\b(Apple|Boat)\b", chunk.text))
        assert topics == {topic_of_heading[chunk.heading]}, chunk


def test_chunks_end_at_sentence_boundaries() -> None:
    sentences = _sentences("Apple", 12)
    document = ParsedDocument("Notes", PDF, [Section(" ".join(sentences), page=1)])

    chunks = _split(document)

    for chunk in chunks:
        assert chunk.text.endswith("."), chunk
        # Whole sentences only: splitting the chunk at its sentence ends gives known sentences.
        for piece in re.split(r"(?<=\.)\s+", chunk.text):
            assert piece in sentences, piece


def test_text_without_sentence_ends_is_split_between_words() -> None:
    words = [f"token{i:03d}" for i in range(300)]
    document = ParsedDocument("Words", PDF, [Section(" ".join(words), page=1)])

    chunks = _split(document)

    assert len(chunks) > 1
    for chunk in chunks:
        assert set(chunk.text.split()) <= set(words), chunk
    assert {word for chunk in chunks for word in chunk.text.split()} == set(words)


def test_index_text_puts_title_and_heading_before_the_text() -> None:
    assert index_text("Manual", "Manual > Install", "Run the installer.") == (
        "Manual\nManual > Install\nRun the installer."
    )


def test_index_text_without_a_heading_has_title_then_text() -> None:
    assert index_text("Manual", None, "Run the installer.") == "Manual\nRun the installer."


def test_overlap_as_large_as_the_chunk_is_rejected() -> None:
    with pytest.raises(ValidationError, match="chunk_overlap must be smaller than chunk_size"):
        IngestionSettings(chunk_size=64, chunk_overlap=64)


def test_text_without_spaces_is_cut_at_the_chunk_size_in_characters() -> None:
    # The splitter alone would split it per character, tokenizing each (6 s per MB).
    run = "".join(f"{n:04x}" for n in range(10_000))  # 40,000 characters, no space
    document = ParsedDocument("Dump", PDF, [Section(f"Before the dump. {run} After it.", page=1)])

    chunks = _split(document)

    assert (
        "".join(chunk.text for chunk in chunks if chunk.text not in ("Before the dump.",))[
            : len(run)
        ]
        == run
    )
    assert all(len(chunk.text) <= SMALL.chunk_size for chunk in chunks if run[:8] in chunk.text)
    assert chunks[0].text == "Before the dump."
    assert chunks[-1].text == "After it."


def test_a_section_far_longer_than_a_block_keeps_every_sentence() -> None:
    # Handed to the splitter in blocks: NLTK's sentence tokenizer stops with an error after
    # 5 s on one long string, which a 19 MB section of a busy server reached.
    sentences = _sentences("Harbour", 4000)  # about 260,000 characters, one paragraph
    document = ParsedDocument("Log", PDF, [Section(" ".join(sentences), page=1)])

    text = " ".join(chunk.text for chunk in _split(document))

    assert all(sentence in text for sentence in sentences)


def test_splitting_stops_soon_after_passing_the_limit() -> None:
    document = ParsedDocument("Log", PDF, [Section(" ".join(_sentences("Quay", 4000)), page=1)])

    whole = Chunker(SMALL).split(document)
    limited = Chunker(SMALL).split(document, limit=5)

    # Checked after each block of about 20,000 characters, not after each chunk.
    assert 5 < len(limited) < len(whole) / 5
    assert limited == whole[: len(limited)]

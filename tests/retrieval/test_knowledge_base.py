"""Ingesting files and searching them with BM25, persisted on disk."""

from __future__ import annotations

from pathlib import Path

from app.retrieval.knowledge_base import KnowledgeBase
from app.settings import RetrievalSettings
from tests.support.corpus import write_corpus


def _titles(kb: KnowledgeBase, query: str) -> list[str]:
    return [hit.node.metadata["title"] for hit in kb.search(query)]


def test_ingest_reports_added_unchanged_updated_and_failed(tmp_path: Path) -> None:
    docs = write_corpus(tmp_path / "docs")
    (docs / "empty.md").write_text("   \n")
    (docs / "image.png").write_bytes(b"\x89PNG")
    kb = KnowledgeBase(tmp_path / "index", RetrievalSettings())

    first = kb.ingest([docs, docs / "image.png", tmp_path / "missing.md"])
    assert sorted(Path(p).name for p in first.added) == [
        "cancellation.md",
        "heartbeats.md",
        "penguins.txt",
    ]
    assert {Path(p).name: reason for p, reason in first.failed.items()} == {
        "empty.md": "the file is empty",
        "image.png": "unsupported type .png: use .md or .txt",
        "missing.md": "no such file or folder",
    }

    (docs / "penguins.txt").write_text("Adelie penguins build nests of small stones.\n")
    second = kb.ingest([docs])
    assert [Path(p).name for p in second.updated] == ["penguins.txt"]
    assert len(second.unchanged) == 2
    assert not second.added


def test_search_finds_the_passage_and_follows_updates(tmp_path: Path) -> None:
    docs = write_corpus(tmp_path / "docs")
    kb = KnowledgeBase(tmp_path / "index", RetrievalSettings())
    kb.ingest([docs])

    assert _titles(kb, "How do I cancel a stream?")[0] == "Cancelling a stream"
    assert _titles(kb, "Emperor penguins winter") == ["penguins"]
    assert kb.search("xylophone") == []

    (docs / "penguins.txt").write_text("Adelie penguins build nests of small stones.\n")
    kb.ingest([docs / "penguins.txt"])
    assert kb.search("Emperor winter huddle") == []
    assert _titles(kb, "nests of stones") == ["penguins"]


def test_a_running_index_reloads_what_another_process_ingested(tmp_path: Path) -> None:
    index = tmp_path / "index"
    serving = KnowledgeBase(index, RetrievalSettings())
    serving.load()
    assert serving.search("cancel a stream") == []
    assert serving.document_count == 0

    KnowledgeBase(index, RetrievalSettings()).ingest([write_corpus(tmp_path / "docs")])
    assert _titles(serving, "cancel a stream")[0] == "Cancelling a stream"
    assert serving.document_count == 3


def test_a_long_document_is_split_into_searchable_chunks(tmp_path: Path) -> None:
    # Long enough for the sentence splitter to run nltk's tokenizer (a packaging trap: nltk
    # refuses hard-linked data files, which a hard-linking installer produces).
    sentences = [f"Paragraph {n} talks about topic{n} in plain words." for n in range(400)]
    (tmp_path / "long.md").write_text("# Long\n\n" + " ".join(sentences))
    kb = KnowledgeBase(tmp_path / "index", RetrievalSettings(chunk_size=128, chunk_overlap=16))
    report = kb.ingest([tmp_path / "long.md"])
    assert report.added
    assert not report.failed
    hits = kb.search("topic399")
    assert "topic399" in hits[0].node.get_content()
    assert len({hit.node.node_id for hit in kb.search("plain words")}) > 1

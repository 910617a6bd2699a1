"""Annotations of an answer's `[n]` markers: one per marker that names a source, at its place."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from app.api.openai_chunks import Completion, annotations_of
from app.core.citations import Citation

COMPLETION = Completion(
    message_id=uuid.uuid4(),
    model="default",
    created=int(datetime.now(UTC).timestamp()),
    documents_url="http://testserver/api/documents/",
    sent=["Why?"],
)


def _citation(index: int, document_id: str | None, title: str | None = None) -> Citation:
    return Citation(
        index=index,
        node_id=f"node-{index}",
        document=f"doc-{index}.md",
        document_id=document_id,
        title=title,
        page=None,
        heading=None,
        text="…",
        score=1.0,
        cited=True,
    )


def test_every_marker_of_a_source_is_annotated_where_it_stands() -> None:
    text = "Close it [1]. Heartbeats keep it open [2], as said [1]; see also [7]."
    citations = [_citation(1, "d1", "Cancelling"), _citation(2, "d2")]
    annotations = annotations_of(text, citations, COMPLETION)
    cited = [annotation.url_citation for annotation in annotations]
    assert [text[c.start_index : c.end_index] for c in cited] == ["[1]", "[2]", "[1]"]
    assert [c.title for c in cited] == ["Cancelling", "doc-2.md", "Cancelling"]
    assert cited[1].url == "http://testserver/api/documents/d2?chunk_id=node-2&context=1"


def test_offsets_count_characters_not_bytes_and_skip_sources_without_a_document() -> None:
    text = "Ünïcödé 🐧 answer [1] and [2]"
    annotations = annotations_of(text, [_citation(1, "d1"), _citation(2, None)], COMPLETION)
    assert len(annotations) == 1
    cited = annotations[0].url_citation
    assert (cited.start_index, cited.end_index) == (text.index("[1]"), text.index("[1]") + 3)

"""A citation as the stored answer and the run's events keep it."""

from __future__ import annotations

from dataclasses import asdict

from app.core.citations import Citation


def test_a_citations_dict_is_asdicts_and_its_own() -> None:
    citation = Citation(
        index=1,
        node_id="n1",
        document="guide.pdf",
        document_id="d1",
        title="Guide",
        page=3,
        heading="Streams",
        text="Streams end with a source event.",
        score=0.5,
        metadata={"page_label": "3", "tags": ["a"]},
        cited=True,
    )

    fields = citation.as_dict()

    assert fields == asdict(citation)
    assert list(fields) == list(asdict(citation))  # same order, same JSON
    fields["metadata"]["page_label"] = "4"
    assert citation.metadata["page_label"] == "3"

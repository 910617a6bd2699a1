"""Ingestion's parser and retrieval's vector index are what the services' ports ask for.

The container's providers are untyped, so this is where mypy checks it.
"""

from __future__ import annotations

from pathlib import Path

from llama_index.core.embeddings import MockEmbedding

from app.core.settings import IngestionSettings, LimitsSettings, QdrantSettings
from app.ingestion.isolation import IsolatedParser
from app.retrieval.dense import VectorIndex
from app.retrieval.embeddings import EmbeddingModel
from app.services.ports import FileParser, VectorStore


def test_the_parser_and_the_vector_index_fit_the_services_ports(tmp_path: Path) -> None:
    parser: FileParser = IsolatedParser(IngestionSettings(), LimitsSettings())
    vectors: VectorStore = VectorIndex(
        QdrantSettings(),
        EmbeddingModel(MockEmbedding(embed_dim=8)),
        local_path=tmp_path / "qdrant",
        name_prefix="test",
        remote_embeddings=False,
    )
    assert parser.media_type_of("notes.md") == "text/markdown"
    vectors.add([])  # nothing to embed: Qdrant is not even opened
    assert not (tmp_path / "qdrant").exists()

"""Settings of the knowledge base: how documents are read and how passages are found."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator


class IngestionSettings(BaseModel):
    """How documents are read and split into chunks."""

    # Small by default: the answer prompt holds up to top_k x chunk_size tokens, and the embedded
    # model reads a prompt at a few hundred tokens per second on a laptop CPU.
    chunk_size: int = Field(default=256, ge=64)
    chunk_overlap: int = Field(default=32, ge=0)
    # A larger file is refused with 413 as soon as the upload passes the limit; the rest of it
    # is never read.
    max_file_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    max_files_per_request: int = Field(default=20, ge=1)
    # All the files of one upload together: an upload is read and parsed whole before any of
    # it is stored, so this bounds the memory one request can take.
    max_request_bytes: int = Field(default=100 * 1024 * 1024, ge=1)
    # What one file may become once read: a compressed PDF can hold far more text than its
    # size suggests, and every chunk is a row, a BM25 entry and (with dense retrieval) a vector.
    max_document_chars: int = Field(default=20_000_000, ge=1)
    max_chunks_per_document: int = Field(default=100_000, ge=1)

    @model_validator(mode="after")
    def _overlap_below_size(self) -> IngestionSettings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return self


class RetrievalSettings(BaseModel):
    """How passages are found for a question."""

    # auto: hybrid when an embedding model is configured, else lexical.
    mode: Literal["auto", "lexical", "dense", "hybrid"] = "auto"
    top_k: int = Field(default=3, ge=1, le=50)
    # Passages scoring at or below these are dropped: BM25 scores are unbounded and positive
    # when a word matches; dense scores are cosine similarities in [-1, 1].
    lexical_min_score: float = Field(default=0.0, ge=0.0)
    dense_min_score: float = Field(default=0.0, ge=-1.0, le=1.0)
    # Hybrid: how many candidates each retriever offers to reciprocal rank fusion.
    fusion_candidates: int = Field(default=20, ge=1, le=200)
    citation_chunk_size: int = Field(default=256, ge=64)
    # After documents change, a search waits this long for the lexical index to be rebuilt
    # before it answers from the previous one (deleted documents are never served either way).
    rebuild_wait_s: float = Field(default=5.0, ge=0.0)
    # A search checks whether its collection changed at most this often. Changes made through
    # this process are seen at once; those of another process (say `citestream ingest` while
    # the server runs) within this time. Deleted documents are never cited either way.
    change_check_s: float = Field(default=1.0, ge=0.0)

"""What ingestion, the knowledge base and retrieval say to each other about chunks.

These types sit below all three so that none of them has to import another: ingestion drafts
chunks, the knowledge base stores them and serves the live ones, retrieval scores their ids.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

# Metadata keys of a retrieved passage. CitationQueryEngine gives its numbered passages new ids,
# so the chunk's own id rides along in metadata under CHUNK_ID_KEY and citations keep it.
CHUNK_ID_KEY = "chunk_id"
DOCUMENT_ID_KEY = "document_id"
FILE_NAME_KEY = "file_name"
COLLECTION_KEY = "collection"
TITLE_KEY = "title"
PAGE_KEY = "page"
HEADING_KEY = "heading"
# What a citation needs but the model does not: kept out of prompts and embeddings.
KEYS_NOT_FOR_THE_MODEL = (CHUNK_ID_KEY, FILE_NAME_KEY, DOCUMENT_ID_KEY, COLLECTION_KEY)


@dataclass(frozen=True)
class ChunkDraft:
    """A chunk before it is stored: its text and where in the document it lies."""

    seq: int
    text: str
    page: int | None
    heading: str | None


@dataclass(frozen=True)
class LiveChunk:
    """A stored chunk that may be cited now, with what a citation names."""

    id: uuid.UUID
    text: str
    page: int | None
    heading: str | None
    document_id: uuid.UUID
    document_name: str
    title: str
    collection: str


@dataclass(frozen=True)
class ScoredChunk:
    """A chunk id and how well it matched a question."""

    chunk_id: uuid.UUID
    score: float


def index_text(title: str, heading: str | None, text: str) -> str:
    """What retrieval indexes for a chunk: its text under the document title and heading, so
    a question that names the document or section finds it."""
    return "\n".join(part for part in (title, heading, text) if part)

"""Request and response bodies of the documents API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.services.ingest import IngestOutcome

# The API's own spelling of a document's status: the wire contract does not follow the
# knowledge base's enum by accident.
DocumentStatus = Literal["indexing", "ready", "updating"]


class _FromService(BaseModel):
    # Built from the service's dataclasses with `model_validate`.
    model_config = ConfigDict(from_attributes=True)


class DocumentOut(_FromService):
    """A document of the knowledge base."""

    id: uuid.UUID
    collection: str
    name: str = Field(description="File name, or path relative to the ingested folder.")
    title: str = Field(description="From the first heading, the HTML title or the PDF's metadata.")
    media_type: str = Field(description="text/markdown, text/plain, text/html or application/pdf.")
    content_hash: str = Field(description="SHA-256 of the file's bytes.")
    size_bytes: int
    chunk_count: int
    page_count: int | None = Field(description="Pages, for a PDF.")
    status: DocumentStatus = Field(
        description="ready; updating while a new version is written (the old one is served); "
        "indexing while a first version is written (not searchable yet)."
    )
    version: int = Field(description="Grows each time the file's content changes.")
    created_at: datetime
    updated_at: datetime


class IngestedDocument(_FromService):
    """What ingesting one file did."""

    outcome: IngestOutcome = Field(
        description="added, updated (its chunks were replaced), or unchanged (the collection "
        "already holds this exact content: that document is returned, not a copy)."
    )
    document: DocumentOut


class IngestResult(BaseModel):
    """Every uploaded file's outcome, in upload order."""

    documents: list[IngestedDocument]


class DocumentPage(_FromService):
    """Documents by collection and name."""

    items: list[DocumentOut]
    total: int
    limit: int
    offset: int


class ChunkOut(_FromService):
    """A chunk of a document's current version."""

    id: uuid.UUID = Field(description="The `node_id` a `source` event cites.")
    seq: int = Field(description="Position in the document, from 0.")
    text: str
    page: int | None
    heading: str | None = Field(description="Heading path, e.g. 'Travel > Meals'.")
    focus: bool = Field(description="Whether this is the chunk that was asked for.")


class DocumentDetail(DocumentOut):
    """A document, with a chunk in context when `chunk_id` was given."""

    context: list[ChunkOut] | None = Field(
        default=None,
        description="The chunk asked for and its neighbours, in order (with `chunk_id`).",
    )


class CollectionOut(_FromService):
    """A collection of documents."""

    name: str
    document_count: int
    chunk_count: int
    updated_at: datetime

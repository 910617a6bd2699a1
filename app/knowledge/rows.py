"""What the knowledge base hands out: plain, frozen rows and the document status.

Nothing here touches the ORM, so services and the API can hold documents and chunks without
importing the tables.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime


class DocumentStatus(enum.StrEnum):
    """Where a document stands. Only `ready` and `updating` documents are searched."""

    # First version being written; not searchable yet.
    INDEXING = "indexing"
    READY = "ready"
    # Searchable at its current version while a new version is being written.
    UPDATING = "updating"


SEARCHABLE_STATUSES = (DocumentStatus.READY, DocumentStatus.UPDATING)


@dataclass(frozen=True)
class DocumentRow:
    """A registered document."""

    id: uuid.UUID
    collection: str
    name: str
    title: str
    media_type: str
    content_hash: str
    size_bytes: int
    chunk_count: int
    page_count: int | None
    status: DocumentStatus
    version: int
    created_at: datetime
    updated_at: datetime
    # The principal that owns it (its collection's owner).
    owner_id: str = "local"


@dataclass(frozen=True)
class NewVersion:
    """What a parsed file says about its document, written when its chunks are published."""

    title: str
    media_type: str
    content_hash: str
    size_bytes: int
    chunk_count: int
    page_count: int | None


@dataclass(frozen=True)
class Publication:
    """A written version to make live: `name` is the document's, for the error if it went."""

    document_id: uuid.UUID
    name: str
    version: int
    details: NewVersion


@dataclass(frozen=True)
class ChunkRow:
    """A stored chunk of a document's current version."""

    id: uuid.UUID
    seq: int
    text: str
    page: int | None
    heading: str | None


@dataclass(frozen=True)
class CollectionRow:
    """A collection and how much it holds."""

    name: str
    document_count: int
    chunk_count: int
    updated_at: datetime


@dataclass(frozen=True)
class CollectionSnapshot:
    """The ids of every searchable chunk of a collection, as of one generation."""

    generation: int
    chunk_ids: list[uuid.UUID]

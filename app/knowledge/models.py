"""Tables of the knowledge base. The schema itself is created by Alembic migrations.

A document's chunks are versioned: a changed file gets a new version written beside the old
one, and a single transaction makes it current, so searches see either version whole.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, utcnow
from app.knowledge.rows import DocumentStatus


class KnowledgeCollection(Base):
    __tablename__ = "collections"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Bumped by every change to the collection's searchable chunks; in-memory indexes compare
    # it to know when to rebuild.
    generation: Mapped[int] = mapped_column(Integer, default=0)
    # The principal that created it (by its first upload): only it (and admins) may search it,
    # list it or add to it; for everyone else it does not exist.
    owner_id: Mapped[str] = mapped_column(String(200), index=True, default="local")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("collection", "name", name="uq_documents_collection_name"),
        # Not unique: a file edited to match another document's content is still its own.
        Index("ix_documents_collection_hash", "collection", "content_hash"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    collection: Mapped[str] = mapped_column(
        ForeignKey("collections.name", ondelete="CASCADE"), nullable=False
    )
    # Always its collection's owner (copied here so lists filter on one indexed column).
    owner_id: Mapped[str] = mapped_column(String(200), index=True, default="local")
    # The file name, or its path relative to the folder that was ingested.
    name: Mapped[str] = mapped_column(String(512))
    title: Mapped[str] = mapped_column(String(500))
    media_type: Mapped[str] = mapped_column(String(100))
    content_hash: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    page_count: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[DocumentStatus] = mapped_column(
        Enum(
            DocumentStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    # The chunk version searches serve.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The version an ingest is writing, if one is. Each attempt gets a new number, so an
    # attempt that was taken over (its process seemed dead) can neither publish nor undo over
    # the one that took over.
    pending_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Chunk(Base):
    __tablename__ = "chunks"
    __table_args__ = (Index("ix_chunks_document_version_seq", "document_id", "version", "seq"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), nullable=False
    )
    version: Mapped[int] = mapped_column(Integer)
    # Order within the document version.
    seq: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    # Where it came from: the PDF page (1-based), the heading path ("Travel > Meals").
    page: Mapped[int | None] = mapped_column(Integer)
    heading: Mapped[str | None] = mapped_column(String(1000))

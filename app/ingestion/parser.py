"""A file's bytes read into what the knowledge base stores: its title, type and chunks."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from app.core.chunks import ChunkDraft
from app.core.errors import CitestreamError, DocumentTooLarge
from app.core.settings import IngestionSettings
from app.ingestion.chunking import Chunker
from app.ingestion.readers import MAX_CHARS_SETTING, UnreadableDocument, media_type_of, parse

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ParsedFile:
    """A file read and split into chunks, with what its document records."""

    name: str
    content_hash: str  # SHA-256 of the file's bytes
    size_bytes: int
    title: str
    media_type: str
    page_count: int | None
    chunks: list[ChunkDraft]


class DocumentParser:
    """Reads files of the supported types and splits them into chunks (the chunker is built
    once). Blocking and CPU-bound: call `parse` off the event loop."""

    def __init__(self, settings: IngestionSettings) -> None:
        self._chunker = Chunker(settings)
        self._max_chars = settings.max_document_chars
        self._max_chunks = settings.max_chunks_per_document

    def media_type_of(self, name: str) -> str:
        """The media type a file name is read as; an unsupported type is a 415."""
        return media_type_of(name)

    def parse(self, name: str, data: bytes) -> ParsedFile:
        """The file (`name` is its document name) hashed, read and split into chunks in reading
        order; content that cannot be read is a 422, text or chunks over their limits a 413."""
        try:
            parsed = parse(name, data, self._max_chars)
        except (CitestreamError, MemoryError):
            raise
        except Exception:
            # A reader bug on an odd file must still be a clear 422, not a 500.
            logger.exception("Could not read %s", name)
            raise UnreadableDocument(name, "the file could not be read") from None
        chars = sum(len(section.text) for section in parsed.sections)
        if chars > self._max_chars:
            raise DocumentTooLarge(
                name,
                f"its text has {chars} characters, more than {self._max_chars}",
                MAX_CHARS_SETTING,
            )
        chunks = self._chunker.split(parsed, limit=self._max_chunks)
        if len(chunks) > self._max_chunks:
            raise DocumentTooLarge(
                name,
                f"it makes more than {self._max_chunks} chunks",
                "CITESTREAM_INGESTION__MAX_CHUNKS_PER_DOCUMENT",
            )
        return ParsedFile(
            name=name,
            content_hash=hashlib.sha256(data).hexdigest(),
            size_bytes=len(data),
            title=parsed.title,
            media_type=parsed.media_type,
            page_count=parsed.page_count,
            chunks=chunks,
        )

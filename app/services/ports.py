"""What the document services need from ingestion and retrieval, as Protocols.

The container passes in ingestion's IsolatedParser and retrieval's VectorIndex. The services
name them only through these ports, so importing a service loads neither the readers (pypdf,
BeautifulSoup, LlamaIndex) nor Qdrant.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from app.core.chunks import LiveChunk

if TYPE_CHECKING:
    from app.ingestion.parser import ParsedFile


class FileParser(Protocol):
    """Reads a file into chunks, within the limits of the work one file may cause."""

    def media_type_of(self, name: str) -> str: ...

    async def parse(self, name: str, data: bytes) -> ParsedFile: ...


class VectorStore(Protocol):
    """The chunks' vectors, when dense retrieval is on. Blocking: call it off the loop."""

    def add(self, chunks: Sequence[LiveChunk]) -> None: ...

    def delete_chunks(self, collection: str, chunk_ids: Sequence[uuid.UUID]) -> None: ...

    def delete_document(self, collection: str, document_id: uuid.UUID) -> None: ...

    def point_ids(self) -> dict[str, list[uuid.UUID]]: ...

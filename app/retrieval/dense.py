"""Dense retrieval: chunk vectors in Qdrant, through LlamaIndex's Qdrant integration.

Each knowledge-base collection has its own Qdrant collection, `<prefix>_<model>__<name>`, so a
search needs no payload filter: embedded Qdrant evaluates filters point by point in Python,
about five times slower than its unfiltered search at 20k vectors.

Qdrant runs embedded (local mode, files under the data directory) unless a server URL is set.
Embedded Qdrant belongs to one process at a time, so a running server and `citestream ingest`
cannot both open it; a server or cluster has no such limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from collections import defaultdict
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from llama_index.core.schema import BaseNode, NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import VectorStoreQuery
from llama_index.vector_stores.qdrant import QdrantVectorStore
from qdrant_client import QdrantClient

from app.core.chunks import LiveChunk, ScoredChunk, index_text
from app.core.errors import CitestreamError
from app.core.settings import QdrantSettings
from app.retrieval.embeddings import EmbeddingModel, EmbeddingsUnavailable

logger = logging.getLogger(__name__)

_SEPARATOR = "__"


class VectorStoreUnavailable(CitestreamError):
    """Qdrant cannot be opened or reached."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "vector_store_unavailable", 503, "Vector store unavailable")


class VectorIndex:
    """Embeds chunks, stores them in Qdrant, and finds the nearest to a question."""

    def __init__(
        self,
        settings: QdrantSettings,
        embeddings: EmbeddingModel,
        *,
        local_path: Path,
        name_prefix: str,
        remote_embeddings: bool,
    ) -> None:
        self._embeddings = embeddings
        self._embed_model = embeddings.model
        # A remote model is awaited (so a cancelled search closes its request); a local one
        # computes in a worker thread.
        self._remote_embeddings = remote_embeddings
        self._settings = settings
        self._local_path = local_path
        # Vectors of another embedding model live under another prefix: they never mix.
        self._prefix = name_prefix
        self._client: QdrantClient | None = None
        self._stores: dict[str, QdrantVectorStore] = {}
        self._opening = threading.Lock()
        # Embedded Qdrant keeps its points in plain Python lists and arrays, without locks:
        # two threads adding at once can give two points one slot. Every call to it is made
        # one at a time; a server takes concurrent calls.
        self._calls: AbstractContextManager[object] = (
            contextlib.nullcontext() if settings.url else threading.RLock()
        )

    @property
    def name_prefix(self) -> str:
        """The start of the name of every Qdrant collection holding this model's vectors."""
        return self._prefix

    def qdrant_collection(self, collection: str) -> str:
        """The Qdrant collection of one knowledge-base collection."""
        return f"{self._prefix}{_SEPARATOR}{collection}"

    # -- opening -------------------------------------------------------------------------------

    def _open(self) -> QdrantClient:
        # Opened on first use, in a worker thread: embedded Qdrant reads every vector into
        # memory, and only one process may hold its folder.
        with self._opening:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self) -> QdrantClient:
        if self._settings.url:
            api_key = self._settings.api_key
            return QdrantClient(
                url=self._settings.url,
                api_key=api_key.get_secret_value() if api_key else None,
            )
        self._local_path.mkdir(parents=True, exist_ok=True)
        # Asked first, before Qdrant loads every vector only to find the folder taken (and
        # leaves its lock file open when it does).
        if self._folder_in_use():
            raise self._in_use()
        try:
            return QdrantClient(path=str(self._local_path))
        except RuntimeError as error:
            if "already accessed" not in str(error):
                raise
            raise self._in_use() from None

    def _folder_in_use(self) -> bool:
        """Whether another embedded Qdrant holds the folder's lock (in any process)."""
        import portalocker

        lock_file = self._local_path / ".lock"
        if not lock_file.exists():
            return False
        with lock_file.open("r+") as handle:
            try:
                portalocker.lock(
                    handle, portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING
                )
            except portalocker.exceptions.LockException:
                return True
            portalocker.unlock(handle)
        return False

    def _in_use(self) -> VectorStoreUnavailable:
        return VectorStoreUnavailable(
            f"The embedded Qdrant store in {self._local_path} is open in another process "
            "(a running `citestream serve`?). Stop it, upload through its API "
            "(POST /api/documents), or run Qdrant as a server and set CITESTREAM_QDRANT__URL."
        )

    def _store(self, collection: str) -> QdrantVectorStore:
        client = self._open()
        with self._opening, self._calls:  # `_opening`, then `_calls`: the one lock order
            store = self._stores.get(collection)
            if store is None:
                # Its constructor asks Qdrant whether the collection exists.
                store = self._stores[collection] = QdrantVectorStore(
                    collection_name=self.qdrant_collection(collection),
                    client=client,
                    # A payload index on the document id speeds up a server's deletes;
                    # embedded Qdrant has none and warns about it.
                    index_doc_id=bool(self._settings.url),
                )
            return store

    def _exists(self, collection: str) -> bool:
        client = self._open()  # outside `_calls`: the two locks are always taken in one order
        with self._calls:
            return client.collection_exists(self.qdrant_collection(collection))

    def _own_collections(self) -> list[str]:
        """The knowledge-base collections this model has vectors for."""
        start = self._prefix + _SEPARATOR
        client = self._open()
        with self._calls:
            names = [c.name for c in client.get_collections().collections]
        return [name.removeprefix(start) for name in names if name.startswith(start)]

    async def open(self) -> None:
        """Open Qdrant now (at start-up) rather than at the first search."""
        await asyncio.to_thread(self._open)

    async def aclose(self) -> None:
        """Release Qdrant (and embedded Qdrant's folder lock, off the event loop) and the
        embedding model's connections."""
        try:
            await asyncio.to_thread(self.close)
        finally:
            await self._embeddings.aclose()

    def close(self) -> None:
        """Release Qdrant (and embedded Qdrant's folder lock)."""
        with self._opening, self._calls:
            if self._client is not None:
                self._client.close()
            self._client = None
            self._stores.clear()

    # -- writing -------------------------------------------------------------------------------

    def add(self, chunks: Sequence[LiveChunk]) -> None:
        """Embed and store chunks. Blocking (model and network): call from a worker thread."""
        if not chunks:
            return
        texts = [index_text(chunk.title, chunk.heading, chunk.text) for chunk in chunks]
        try:
            vectors = self._embed_model.get_text_embedding_batch(texts)
        except Exception as error:
            raise EmbeddingsUnavailable(
                f"The embedding model failed ({self._describe_model()}): "
                f"{type(error).__name__}. Nothing was stored."
            ) from error
        by_collection: dict[str, list[BaseNode]] = defaultdict(list)
        for chunk, text, vector in zip(chunks, texts, vectors, strict=True):
            by_collection[chunk.collection].append(
                TextNode(
                    id_=str(chunk.id),
                    text=text,
                    embedding=vector,
                    metadata={"document_id": str(chunk.document_id)},
                    relationships={
                        NodeRelationship.SOURCE: RelatedNodeInfo(node_id=str(chunk.document_id))
                    },
                )
            )
        for collection, nodes in by_collection.items():
            store = self._store(collection)
            try:
                with self._calls:
                    store.add(nodes)
            except Exception as error:
                raise VectorStoreUnavailable(
                    f"Qdrant could not store the vectors: {type(error).__name__}. "
                    "Nothing was stored."
                ) from error

    def delete_document(self, collection: str, document_id: uuid.UUID) -> None:
        """Remove every vector of a document. Blocking."""
        if self._exists(collection):
            store = self._store(collection)
            with self._calls:
                store.delete(ref_doc_id=str(document_id))

    def delete_chunks(self, collection: str, chunk_ids: Sequence[uuid.UUID]) -> None:
        """Remove the vectors of replaced chunks. Blocking."""
        if chunk_ids and self._exists(collection):
            store = self._store(collection)
            with self._calls:
                store.delete_nodes(node_ids=[str(c) for c in chunk_ids])

    # -- reading -------------------------------------------------------------------------------

    def point_ids(self) -> dict[str, list[uuid.UUID]]:
        """The ids of every stored vector, by knowledge-base collection. Blocking."""
        client = self._open()
        found: dict[str, list[uuid.UUID]] = {}
        for collection in self._own_collections():
            ids = found[collection] = []
            offset = None
            while True:
                with self._calls:
                    points, offset = client.scroll(
                        self.qdrant_collection(collection),
                        limit=1000,
                        offset=offset,
                        with_payload=False,
                    )
                ids.extend(uuid.UUID(str(point.id)) for point in points)
                if offset is None:
                    break
        return found

    def count(self) -> int:
        """How many vectors are stored, in every collection. Blocking."""
        client = self._open()
        total = 0
        for name in self._own_collections():
            with self._calls:
                total += int(client.count(self.qdrant_collection(name), exact=True).count)
        return total

    async def search(
        self, collection: str, query: str, limit: int, min_score: float
    ) -> list[ScoredChunk]:
        """The `limit` nearest chunks of a collection scoring above `min_score`."""
        if not query.strip():
            return []
        if self._remote_embeddings:
            vector = await self._embed_model.aget_query_embedding(query)
        else:
            vector = await asyncio.to_thread(self._embed_model.get_query_embedding, query)
        return await asyncio.to_thread(self._nearest, collection, vector, limit, min_score)

    def _nearest(
        self, collection: str, vector: list[float], limit: int, min_score: float
    ) -> list[ScoredChunk]:
        if not self._exists(collection):
            return []
        store = self._store(collection)
        with self._calls:
            result = store.query(VectorStoreQuery(query_embedding=vector, similarity_top_k=limit))
        return [
            ScoredChunk(uuid.UUID(point_id), float(score))
            for point_id, score in zip(result.ids or [], result.similarities or [], strict=True)
            if score > min_score
        ]

    def _describe_model(self) -> str:
        base_url = getattr(self._embed_model, "api_base", None)
        name = getattr(self._embed_model, "model_name", "")
        return f"{name} at {base_url}" if base_url else str(name)

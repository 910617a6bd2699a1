"""LlamaIndex retrievers over one collection: search by chunk id, then load what is still live."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from app.core.chunks import (
    CHUNK_ID_KEY,
    COLLECTION_KEY,
    DOCUMENT_ID_KEY,
    FILE_NAME_KEY,
    HEADING_KEY,
    KEYS_NOT_FOR_THE_MODEL,
    PAGE_KEY,
    TITLE_KEY,
    LiveChunk,
    ScoredChunk,
)
from app.retrieval.ports import ChunkSource

ChunkSearch = Callable[[str, str, int, float], Awaitable[list[ScoredChunk]]]


def chunk_node(chunk: LiveChunk, score: float | None) -> NodeWithScore:
    """A stored chunk as a LlamaIndex node with everything a citation names."""
    metadata: dict[str, object] = {
        TITLE_KEY: chunk.title,
        FILE_NAME_KEY: chunk.document_name,
        DOCUMENT_ID_KEY: str(chunk.document_id),
        COLLECTION_KEY: chunk.collection,
        CHUNK_ID_KEY: str(chunk.id),
    }
    if chunk.page is not None:
        metadata[PAGE_KEY] = chunk.page
    if chunk.heading:
        metadata[HEADING_KEY] = chunk.heading
    node = TextNode(
        id_=str(chunk.id),
        text=chunk.text,
        metadata=metadata,
        excluded_llm_metadata_keys=list(KEYS_NOT_FOR_THE_MODEL),
        excluded_embed_metadata_keys=list(KEYS_NOT_FOR_THE_MODEL),
    )
    return NodeWithScore(node=node, score=score)


class CollectionRetriever(BaseRetriever):
    """One kind of search (lexical or dense) over one collection. Async only.

    The search returns chunk ids; only the chunks the knowledge base still serves become
    passages, so a document deleted a moment ago is never cited.
    """

    def __init__(
        self,
        search: ChunkSearch,
        chunks: ChunkSource,
        *,
        collection: str,
        limit: int,
        min_score: float,
    ) -> None:
        super().__init__()
        self._search = search
        self._chunks = chunks
        self._collection = collection
        self._limit = limit
        self._min_score = min_score

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        raise NotImplementedError("Citestream retrieves asynchronously: use aretrieve()")

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        # Twice as many as needed: an index that has not caught up with a delete (or a vector
        # left behind) still leaves `limit` live passages.
        hits = await self._search(
            self._collection, query_bundle.query_str, 2 * self._limit, self._min_score
        )
        live = await self._chunks.live_chunks([hit.chunk_id for hit in hits])
        nodes = [chunk_node(live[hit.chunk_id], hit.score) for hit in hits if hit.chunk_id in live]
        return nodes[: self._limit]

"""Which retrieval a question gets: lexical, dense, or both fused by reciprocal rank."""

from __future__ import annotations

from typing import Literal

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.llms import LLM
from llama_index.core.retrievers import QueryFusionRetriever
from llama_index.core.retrievers.fusion_retriever import FUSION_MODES
from llama_index.core.schema import NodeWithScore, QueryBundle

from app.core.settings import RetrievalSettings
from app.retrieval.dense import VectorIndex
from app.retrieval.lexical import LexicalIndex
from app.retrieval.ports import ChunkSource
from app.retrieval.retriever import CollectionRetriever

RetrievalMode = Literal["lexical", "dense", "hybrid"]


class KnowledgeSearch:
    """Finds the passages for a question in one collection, in the configured mode.

    One LlamaIndex retriever per collection, built on first use and kept: they only hold
    references to the app-lifetime indexes.
    """

    def __init__(
        self,
        *,
        chunks: ChunkSource,
        lexical: LexicalIndex,
        dense: VectorIndex | None,
        settings: RetrievalSettings,
        mode: RetrievalMode,
        llm: LLM,
    ) -> None:
        if mode != "lexical" and dense is None:
            raise ValueError(f"retrieval mode {mode!r} needs an embedding model")
        self._chunks = chunks
        self._lexical = lexical
        self._dense = dense
        self._settings = settings
        self.mode = mode
        # QueryFusionRetriever only calls a model to invent extra queries, which Citestream
        # turns off; passing ours keeps LlamaIndex from looking for a global default.
        self._llm = llm
        self._retrievers: dict[str, BaseRetriever] = {}

    async def search(self, question: str, collection: str) -> list[NodeWithScore]:
        """The best `top_k` passages for the question, best first."""
        return await self.retriever_for(collection).aretrieve(QueryBundle(query_str=question))

    def retriever_for(self, collection: str) -> BaseRetriever:
        """The LlamaIndex retriever of one collection."""
        retriever = self._retrievers.get(collection)
        if retriever is None:
            retriever = self._retrievers[collection] = self._build(collection)
        return retriever

    def _build(self, collection: str) -> BaseRetriever:
        top_k = self._settings.top_k
        if self.mode == "lexical":
            return self._lexical_retriever(collection, top_k)
        if self.mode == "dense":
            return self._dense_retriever(collection, top_k)
        candidates = max(top_k, self._settings.fusion_candidates)
        return QueryFusionRetriever(
            [
                self._lexical_retriever(collection, candidates),
                self._dense_retriever(collection, candidates),
            ],
            llm=self._llm,
            mode=FUSION_MODES.RECIPROCAL_RANK,
            similarity_top_k=top_k,
            num_queries=1,
            use_async=True,
        )

    def _lexical_retriever(self, collection: str, limit: int) -> CollectionRetriever:
        return CollectionRetriever(
            self._lexical.search,
            self._chunks,
            collection=collection,
            limit=limit,
            min_score=self._settings.lexical_min_score,
        )

    def _dense_retriever(self, collection: str, limit: int) -> CollectionRetriever:
        assert self._dense is not None
        return CollectionRetriever(
            self._dense.search,
            self._chunks,
            collection=collection,
            limit=limit,
            min_score=self._settings.dense_min_score,
        )

"""A LlamaIndex retriever over the knowledge base that searches in a worker thread."""

from __future__ import annotations

import asyncio

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle

from app.retrieval.knowledge_base import KnowledgeBase

CHUNK_ID_KEY = "chunk_id"


class KnowledgeBaseRetriever(BaseRetriever):
    """BM25 over the knowledge base; the CPU work never runs on the event loop."""

    def __init__(self, knowledge_base: KnowledgeBase) -> None:
        super().__init__()
        self._knowledge_base = knowledge_base

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self._knowledge_base.search(query_bundle.query_str)
        for hit in hits:
            # CitationQueryEngine gives its numbered passages new ids; the chunk's own id rides
            # along in metadata, kept out of the prompt, so citations keep it.
            hit.node.metadata[CHUNK_ID_KEY] = hit.node.node_id
            hit.node.excluded_llm_metadata_keys.append(CHUNK_ID_KEY)
            hit.node.excluded_embed_metadata_keys.append(CHUNK_ID_KEY)
        return hits

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return await asyncio.to_thread(self._retrieve, query_bundle)

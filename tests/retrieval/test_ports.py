"""Retrieval over the knowledge base's own classes, through the ports retrieval declares.

The container's providers are untyped, so these tests are also where mypy checks that the
knowledge base's classes are what the ports ask for.
"""

from __future__ import annotations

from app.retrieval.lexical import LexicalIndex
from app.retrieval.ports import ChunkSource, CollectionChunks, CollectionGenerations
from tests.support.knowledge import knowledge_base


async def test_a_lexical_index_follows_the_knowledge_base_through_its_ports(
    database_url: str,
) -> None:
    async with knowledge_base(database_url) as knowledge:
        generations: CollectionGenerations = knowledge.collections
        chunks: CollectionChunks = knowledge.chunks
        index = LexicalIndex(generations=generations, chunks=chunks, rebuild_wait_s=5.0)
        try:
            assert await index.search("docs", "otters", 5) == []
            document_id, ids = await knowledge.publish_new(
                "docs", "otters.md", "h1", "Otters hold hands while they sleep."
            )
            [hit] = await index.search("docs", "otters", 5)
            assert hit.chunk_id == ids[0]

            await knowledge.versions.delete(document_id)
            assert await index.search("docs", "otters", 5) == []
        finally:
            await index.aclose()


async def test_the_chunks_a_search_found_load_only_while_they_are_live(
    database_url: str,
) -> None:
    async with knowledge_base(database_url) as knowledge:
        source: ChunkSource = knowledge.chunks
        document_id, ids = await knowledge.publish_new("docs", "a.md", "h1", "one", "two")
        assert set(await source.live_chunks(ids)) == set(ids)
        await knowledge.versions.delete(document_id)
        assert await source.live_chunks(ids) == {}

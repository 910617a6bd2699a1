"""Reading chunks on SQLite and PostgreSQL: a cited chunk among its neighbours, every live chunk
in batches, and which chunks are stored at all."""

from __future__ import annotations

import uuid

from tests.support.knowledge import KnowledgeBase, drafts


async def test_a_chunk_in_context_comes_with_its_neighbours(knowledge: KnowledgeBase) -> None:
    document_id, ids = await knowledge.publish_new("docs", "guide.md", "h1", "a", "b", "c", "d")
    context = await knowledge.chunks.chunk_in_context(document_id, ids[2], radius=1)
    assert context is not None
    assert [chunk.text for chunk in context] == ["b", "c", "d"]
    whole = await knowledge.chunks.chunk_in_context(document_id, ids[0], radius=10)
    assert whole is not None
    assert [chunk.seq for chunk in whole] == [0, 1, 2, 3]
    assert await knowledge.chunks.chunk_in_context(uuid.uuid4(), ids[0], radius=1) is None


async def test_every_live_chunk_comes_in_batches_and_unpublished_ones_still_exist(
    knowledge: KnowledgeBase,
) -> None:
    _, published = await knowledge.publish_new("docs", "a.md", "h1", "one", "two", "three")
    _, other = await knowledge.publish_new("notes", "b.md", "h2", "four")
    pending = await knowledge.versions.reserve_new("docs", "c.md", "h3", "text/markdown", 1)
    unpublished = await knowledge.versions.add_chunks(pending.id, 1, drafts("five"))

    batches = [batch async for batch in knowledge.chunks.all_live_chunks(batch_size=2)]

    assert [len(batch) for batch in batches] == [2, 2]
    assert {chunk.id for batch in batches for chunk in batch} == {*published, *other}
    gone = uuid.uuid4()
    existing = await knowledge.chunks.existing_chunk_ids([*unpublished, published[0], gone])
    assert existing == {*unpublished, published[0]}

"""Collections on SQLite and PostgreSQL: listed with what they hold, counted, and unknown ones
have no generation."""

from __future__ import annotations

from tests.support.knowledge import KnowledgeBase


async def test_collections_are_listed_in_order_with_what_they_hold(
    knowledge: KnowledgeBase,
) -> None:
    for name in ("c.md", "a.md", "b.md"):
        await knowledge.publish_new("docs", name, f"hash-{name}", "x", "y")
    await knowledge.publish_new("notes", "z.md", "hash-z", "x")
    collections = await knowledge.collections.list_collections()
    assert [(c.name, c.document_count, c.chunk_count) for c in collections] == [
        ("docs", 3, 6),
        ("notes", 1, 1),
    ]
    assert await knowledge.collections.document_count() == 4


async def test_a_collection_exists_once_a_document_is_registered_in_it(
    knowledge: KnowledgeBase,
) -> None:
    assert await knowledge.collections.generation("docs") is None
    await knowledge.versions.reserve_new("docs", "guide.md", "h1", "text/markdown", 1)
    assert await knowledge.collections.generation("docs") == 0
    # Not searchable yet: registered, but neither counted nor holding chunks.
    assert await knowledge.collections.document_count() == 0
    [collection] = await knowledge.collections.list_collections()
    assert (collection.document_count, collection.chunk_count) == (1, 0)

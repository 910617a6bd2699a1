"""Finding documents on SQLite and PostgreSQL: by content within a collection, and in pages."""

from __future__ import annotations

from tests.support.knowledge import KnowledgeBase


async def test_documents_are_found_by_content_within_their_collection(
    knowledge: KnowledgeBase,
) -> None:
    await knowledge.publish_new("docs", "a.md", "same-hash", "text")
    await knowledge.publish_new("other", "a.md", "same-hash", "text")
    found = await knowledge.documents.find_by_hash("other", "same-hash")
    assert found is not None
    assert found.collection == "other"
    assert await knowledge.documents.find_by_hash("docs", "no-such-hash") is None


async def test_documents_are_listed_by_collection_and_name(knowledge: KnowledgeBase) -> None:
    for name in ("c.md", "a.md", "b.md"):
        await knowledge.publish_new("docs", name, f"hash-{name}", "x", "y")
    await knowledge.publish_new("notes", "z.md", "hash-z", "x")
    page = await knowledge.documents.list_documents("docs", limit=2, offset=1)
    assert [d.name for d in page.items] == ["b.md", "c.md"]
    assert page.total == 3
    everything = await knowledge.documents.list_documents(None, limit=10, offset=0)
    assert [(d.collection, d.name) for d in everything.items][-1] == ("notes", "z.md")

"""A document's versions on SQLite and PostgreSQL: searchable whole or not at all, one ingest
at a time, a dead ingest's hold taken over once its lease has run out."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from app.core.errors import Conflict
from app.knowledge.rows import DocumentStatus
from tests.support.knowledge import KnowledgeBase, details, drafts

# How long the tests' ingests hold a document before another may take it over.
LEASE = timedelta(minutes=30)


def _stale_before(knowledge: KnowledgeBase) -> datetime:
    return knowledge.clock.now() - LEASE


def _outlive_the_lease(knowledge: KnowledgeBase) -> None:
    knowledge.clock.advance(LEASE.total_seconds() + 1)


async def test_a_new_document_is_searchable_only_once_published(
    knowledge: KnowledgeBase,
) -> None:
    versions, chunks = knowledge.versions, knowledge.chunks
    document = await versions.reserve_new("docs", "guide.md", "h1", "text/markdown", 100)
    assert document.status == DocumentStatus.INDEXING
    assert await knowledge.collections.generation("docs") == 0
    ids = await versions.add_chunks(document.id, 1, drafts("alpha", "beta"))
    assert await chunks.live_chunks(ids) == {}
    snapshot = await chunks.collection_snapshot("docs")
    assert snapshot is not None
    assert snapshot.chunk_ids == []

    await versions.publish(document.id, 1, details("h1", 2))

    live = await chunks.live_chunks(ids)
    assert [live[i].text for i in ids] == ["alpha", "beta"]
    assert live[ids[0]].document_name == "guide.md"
    assert live[ids[0]].heading == "Guide > Setup"
    assert await knowledge.collections.generation("docs") == 1
    stored = await knowledge.documents.get(document.id)
    assert stored is not None
    assert (stored.status, stored.chunk_count, stored.title) == (DocumentStatus.READY, 2, "Guide")


async def test_a_new_version_replaces_the_old_one_in_one_step(knowledge: KnowledgeBase) -> None:
    versions, chunks = knowledge.versions, knowledge.chunks
    document_id, old_ids = await knowledge.publish_new("docs", "guide.md", "h1", "old one")
    held = await versions.reserve_update(document_id, _stale_before(knowledge))
    assert held is not None
    updating, version = held
    assert (updating.status, version) == (DocumentStatus.UPDATING, 2)
    new_ids = await versions.add_chunks(document_id, 2, drafts("new one", "new two"))
    # While the new version is written, searches still see the old one, and only it.
    assert set(await chunks.live_chunks([*old_ids, *new_ids])) == set(old_ids)

    replaced = await versions.publish(document_id, 2, details("h2", 2))

    assert replaced == old_ids
    assert set(await chunks.live_chunks([*old_ids, *new_ids])) == set(new_ids)
    stored = await knowledge.documents.get(document_id)
    assert stored is not None
    assert (stored.version, stored.content_hash, stored.status) == (2, "h2", DocumentStatus.READY)
    assert await knowledge.collections.generation("docs") == 2


async def test_an_abandoned_ingest_leaves_what_was_there(knowledge: KnowledgeBase) -> None:
    versions, documents = knowledge.versions, knowledge.documents
    document_id, old_ids = await knowledge.publish_new("docs", "guide.md", "h1", "old one")
    assert await versions.reserve_update(document_id, _stale_before(knowledge))
    new_ids = await versions.add_chunks(document_id, 2, drafts("half written"))
    assert await versions.abandon(document_id, 2)
    assert set(await knowledge.chunks.live_chunks([*old_ids, *new_ids])) == set(old_ids)
    stored = await documents.get(document_id)
    assert stored is not None
    assert (stored.status, stored.version) == (DocumentStatus.READY, 1)

    fresh = await versions.reserve_new("docs", "other.md", "h3", "text/markdown", 10)
    await versions.add_chunks(fresh.id, 1, drafts("never published"))
    assert await versions.abandon(fresh.id, 1)
    assert await documents.get(fresh.id) is None
    assert await documents.find_by_name("docs", "other.md") is None


async def test_one_ingest_at_a_time_per_document(knowledge: KnowledgeBase) -> None:
    versions = knowledge.versions
    with pytest.raises(Conflict):
        await asyncio.gather(
            versions.reserve_new("docs", "same.md", "h1", "text/markdown", 1),
            versions.reserve_new("docs", "same.md", "h2", "text/markdown", 1),
        )
    document = await knowledge.documents.find_by_name("docs", "same.md")
    assert document is not None
    # Not yet published: a second ingest cannot take it over while its lease holds...
    assert not await versions.take_over_stale(document.id, _stale_before(knowledge))
    # ...but can once the lease has run out (the first ingest's process died).
    _outlive_the_lease(knowledge)
    assert await versions.take_over_stale(document.id, _stale_before(knowledge))
    assert await knowledge.documents.get(document.id) is None

    document_id, _ = await knowledge.publish_new("docs", "guide.md", "h3", "text")
    first = await versions.reserve_update(document_id, _stale_before(knowledge))
    assert first is not None
    assert await versions.reserve_update(document_id, _stale_before(knowledge)) is None
    _outlive_the_lease(knowledge)
    taken_over = await versions.reserve_update(document_id, _stale_before(knowledge))
    assert taken_over is not None
    # The attempt that was taken over (its process only seemed dead) wrote version 2, the one
    # that took over writes 3: the first can neither publish nor undo the second's work.
    assert (first[1], taken_over[1]) == (2, 3)
    await versions.add_chunks(document_id, 2, drafts("slow"))
    newer = await versions.add_chunks(document_id, 3, drafts("newer"))
    with pytest.raises(Conflict):
        await versions.publish(document_id, 2, details("h-slow", 1))
    assert await versions.abandon(document_id, 2)
    assert await versions.publish(document_id, 3, details("h-newer", 1)) is not None
    assert set(await knowledge.chunks.live_chunks(newer)) == set(newer)


async def test_a_version_published_before_its_ingest_failed_is_not_undone(
    knowledge: KnowledgeBase,
) -> None:
    versions, chunks = knowledge.versions, knowledge.chunks
    # The ingest was cancelled while awaiting publish's commit, which went through.
    document_id, published = await knowledge.publish_new("docs", "a.md", "h1", "one")
    assert not await versions.abandon(document_id, 1)
    assert set(await chunks.live_chunks(published)) == set(published)
    held = await versions.reserve_update(document_id, _stale_before(knowledge))
    assert held is not None
    newer = await versions.add_chunks(document_id, held[1], drafts("two"))
    await versions.publish(document_id, held[1], details("h2", 1))
    assert not await versions.abandon(document_id, held[1])
    assert set(await chunks.live_chunks(newer)) == set(newer)


async def test_deleting_a_document_stops_its_chunks_at_once(knowledge: KnowledgeBase) -> None:
    versions, chunks = knowledge.versions, knowledge.chunks
    document_id, ids = await knowledge.publish_new("docs", "guide.md", "h1", "one", "two")
    _, kept = await knowledge.publish_new("docs", "kept.md", "h2", "three")
    before = await knowledge.collections.generation("docs")
    deleted = await versions.delete(document_id)
    assert deleted is not None
    assert deleted.name == "guide.md"
    assert await chunks.live_chunks([*ids, *kept]) != {}
    assert set(await chunks.live_chunks([*ids, *kept])) == set(kept)
    assert await knowledge.collections.generation("docs") == (before or 0) + 1
    assert await versions.delete(document_id) is None
    snapshot = await chunks.collection_snapshot("docs")
    assert snapshot is not None
    assert snapshot.chunk_ids == kept


async def test_every_change_is_stamped_with_the_clocks_time(knowledge: KnowledgeBase) -> None:
    registered = knowledge.clock.now()
    document_id, _ = await knowledge.publish_new("docs", "guide.md", "h1", "one")
    knowledge.clock.advance(60)
    held = await knowledge.versions.reserve_update(document_id, _stale_before(knowledge))
    assert held is not None
    knowledge.clock.advance(60)
    await knowledge.versions.publish(document_id, held[1], details("h2", 1))

    stored = await knowledge.documents.get(document_id)
    assert stored is not None
    assert (stored.created_at, stored.updated_at) == (registered, knowledge.clock.now())
    [collection] = await knowledge.collections.list_collections()
    assert collection.updated_at == knowledge.clock.now()
    knowledge.clock.advance(60)
    await knowledge.versions.delete(document_id)
    [collection] = await knowledge.collections.list_collections()
    assert collection.updated_at == knowledge.clock.now()

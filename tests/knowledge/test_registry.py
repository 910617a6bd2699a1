"""The document registry on SQLite and PostgreSQL: a version is searchable whole or not at all."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from app.core.chunks import ChunkDraft
from app.core.database import Database, utcnow
from app.core.errors import Conflict
from app.core.migrations import upgrade_to_head
from app.core.settings import DatabaseSettings
from app.knowledge.models import DocumentStatus
from app.knowledge.registry import DocumentRegistry, NewVersion


@pytest.fixture
async def registry(database_url: str) -> AsyncIterator[DocumentRegistry]:
    await asyncio.to_thread(upgrade_to_head, database_url)
    database = Database(DatabaseSettings(url=database_url))
    yield DocumentRegistry(database)
    await database.aclose()


def _drafts(*texts: str, page: int | None = None) -> list[ChunkDraft]:
    return [ChunkDraft(seq, text, page, "Guide > Setup") for seq, text in enumerate(texts)]


def _details(content_hash: str, chunks: int) -> NewVersion:
    return NewVersion("Guide", "text/markdown", content_hash, 100, chunks, None)


async def _publish_new(
    registry: DocumentRegistry, collection: str, name: str, content_hash: str, *texts: str
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    document = await registry.reserve_new(collection, name, content_hash, "text/markdown", 100)
    ids = await registry.add_chunks(document.id, 1, _drafts(*texts))
    assert await registry.publish(document.id, 1, _details(content_hash, len(texts))) == []
    return document.id, ids


async def test_a_new_document_is_searchable_only_once_published(
    registry: DocumentRegistry,
) -> None:
    document = await registry.reserve_new("docs", "guide.md", "h1", "text/markdown", 100)
    assert document.status == DocumentStatus.INDEXING
    assert await registry.generation("docs") == 0
    ids = await registry.add_chunks(document.id, 1, _drafts("alpha", "beta"))
    assert await registry.live_chunks(ids) == {}
    snapshot = await registry.collection_snapshot("docs")
    assert snapshot is not None
    assert snapshot.chunk_ids == []

    await registry.publish(document.id, 1, _details("h1", 2))

    live = await registry.live_chunks(ids)
    assert [live[i].text for i in ids] == ["alpha", "beta"]
    assert live[ids[0]].document_name == "guide.md"
    assert live[ids[0]].heading == "Guide > Setup"
    assert await registry.generation("docs") == 1
    stored = await registry.get(document.id)
    assert stored is not None
    assert (stored.status, stored.chunk_count, stored.title) == (DocumentStatus.READY, 2, "Guide")


async def test_a_new_version_replaces_the_old_one_in_one_step(registry: DocumentRegistry) -> None:
    document_id, old_ids = await _publish_new(registry, "docs", "guide.md", "h1", "old one")
    held = await registry.reserve_update(document_id, utcnow() - timedelta(minutes=30))
    assert held is not None
    updating, version = held
    assert (updating.status, version) == (DocumentStatus.UPDATING, 2)
    new_ids = await registry.add_chunks(document_id, 2, _drafts("new one", "new two"))
    # While the new version is written, searches still see the old one, and only it.
    assert set(await registry.live_chunks([*old_ids, *new_ids])) == set(old_ids)

    replaced = await registry.publish(document_id, 2, _details("h2", 2))

    assert replaced == old_ids
    assert set(await registry.live_chunks([*old_ids, *new_ids])) == set(new_ids)
    stored = await registry.get(document_id)
    assert stored is not None
    assert (stored.version, stored.content_hash, stored.status) == (2, "h2", DocumentStatus.READY)
    assert await registry.generation("docs") == 2


async def test_an_abandoned_ingest_leaves_what_was_there(registry: DocumentRegistry) -> None:
    document_id, old_ids = await _publish_new(registry, "docs", "guide.md", "h1", "old one")
    assert await registry.reserve_update(document_id, utcnow() - timedelta(minutes=30))
    new_ids = await registry.add_chunks(document_id, 2, _drafts("half written"))
    assert await registry.abandon(document_id, 2)
    assert set(await registry.live_chunks([*old_ids, *new_ids])) == set(old_ids)
    stored = await registry.get(document_id)
    assert stored is not None
    assert (stored.status, stored.version) == (DocumentStatus.READY, 1)

    fresh = await registry.reserve_new("docs", "other.md", "h3", "text/markdown", 10)
    await registry.add_chunks(fresh.id, 1, _drafts("never published"))
    assert await registry.abandon(fresh.id, 1)
    assert await registry.get(fresh.id) is None
    assert await registry.find_by_name("docs", "other.md") is None


async def test_one_ingest_at_a_time_per_document(registry: DocumentRegistry) -> None:
    with pytest.raises(Conflict):
        await asyncio.gather(
            registry.reserve_new("docs", "same.md", "h1", "text/markdown", 1),
            registry.reserve_new("docs", "same.md", "h2", "text/markdown", 1),
        )
    document = await registry.find_by_name("docs", "same.md")
    assert document is not None
    fresh_enough = utcnow() - timedelta(minutes=30)
    # Not yet published: a second ingest cannot take it over while its lease holds...
    assert not await registry.take_over_stale(document.id, fresh_enough)
    # ...but can once the lease has run out (the first ingest's process died).
    assert await registry.take_over_stale(document.id, utcnow() + timedelta(seconds=1))
    assert await registry.get(document.id) is None

    document_id, _ = await _publish_new(registry, "docs", "guide.md", "h3", "text")
    first = await registry.reserve_update(document_id, fresh_enough)
    assert first is not None
    assert await registry.reserve_update(document_id, fresh_enough) is None
    taken_over = await registry.reserve_update(document_id, utcnow() + timedelta(seconds=1))
    assert taken_over is not None
    # The attempt that was taken over (its process only seemed dead) wrote version 2, the one
    # that took over writes 3: the first can neither publish nor undo the second's work.
    assert (first[1], taken_over[1]) == (2, 3)
    await registry.add_chunks(document_id, 2, _drafts("slow"))
    newer = await registry.add_chunks(document_id, 3, _drafts("newer"))
    with pytest.raises(Conflict):
        await registry.publish(document_id, 2, _details("h-slow", 1))
    assert await registry.abandon(document_id, 2)
    assert await registry.publish(document_id, 3, _details("h-newer", 1)) is not None
    assert set(await registry.live_chunks(newer)) == set(newer)


async def test_a_version_published_before_its_ingest_failed_is_not_undone(
    registry: DocumentRegistry,
) -> None:
    # The ingest was cancelled while awaiting publish's commit, which went through.
    document_id, chunks = await _publish_new(registry, "docs", "a.md", "h1", "one")
    assert not await registry.abandon(document_id, 1)
    assert set(await registry.live_chunks(chunks)) == set(chunks)
    held = await registry.reserve_update(document_id, utcnow() - timedelta(minutes=30))
    assert held is not None
    newer = await registry.add_chunks(document_id, held[1], _drafts("two"))
    await registry.publish(document_id, held[1], _details("h2", 1))
    assert not await registry.abandon(document_id, held[1])
    assert set(await registry.live_chunks(newer)) == set(newer)


async def test_documents_are_found_by_content_within_their_collection(
    registry: DocumentRegistry,
) -> None:
    await _publish_new(registry, "docs", "a.md", "same-hash", "text")
    await _publish_new(registry, "other", "a.md", "same-hash", "text")
    found = await registry.find_by_hash("other", "same-hash")
    assert found is not None
    assert found.collection == "other"
    assert await registry.find_by_hash("docs", "no-such-hash") is None


async def test_deleting_a_document_stops_its_chunks_at_once(registry: DocumentRegistry) -> None:
    document_id, ids = await _publish_new(registry, "docs", "guide.md", "h1", "one", "two")
    _, kept = await _publish_new(registry, "docs", "kept.md", "h2", "three")
    before = await registry.generation("docs")
    deleted = await registry.delete(document_id)
    assert deleted is not None
    assert deleted.name == "guide.md"
    assert await registry.live_chunks([*ids, *kept]) != {}
    assert set(await registry.live_chunks([*ids, *kept])) == set(kept)
    assert await registry.generation("docs") == (before or 0) + 1
    assert await registry.delete(document_id) is None
    snapshot = await registry.collection_snapshot("docs")
    assert snapshot is not None
    assert snapshot.chunk_ids == kept


async def test_a_chunk_in_context_comes_with_its_neighbours(registry: DocumentRegistry) -> None:
    document_id, ids = await _publish_new(registry, "docs", "guide.md", "h1", "a", "b", "c", "d")
    context = await registry.chunk_in_context(document_id, ids[2], radius=1)
    assert context is not None
    assert [chunk.text for chunk in context] == ["b", "c", "d"]
    whole = await registry.chunk_in_context(document_id, ids[0], radius=10)
    assert whole is not None
    assert [chunk.seq for chunk in whole] == [0, 1, 2, 3]
    assert await registry.chunk_in_context(uuid.uuid4(), ids[0], radius=1) is None


async def test_documents_and_collections_are_listed_in_order(registry: DocumentRegistry) -> None:
    for name in ("c.md", "a.md", "b.md"):
        await _publish_new(registry, "docs", name, f"hash-{name}", "x", "y")
    await _publish_new(registry, "notes", "z.md", "hash-z", "x")
    page = await registry.list_documents("docs", limit=2, offset=1)
    assert [d.name for d in page.items] == ["b.md", "c.md"]
    assert page.total == 3
    everything = await registry.list_documents(None, limit=10, offset=0)
    assert [(d.collection, d.name) for d in everything.items][-1] == ("notes", "z.md")
    collections = await registry.list_collections()
    assert [(c.name, c.document_count, c.chunk_count) for c in collections] == [
        ("docs", 3, 6),
        ("notes", 1, 1),
    ]
    assert await registry.document_count() == 4

"""The ingest service against a real database: what an ingest leaves when it races, dies or
fails part-way."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from datetime import timedelta

import pytest

from app.container import Container
from app.core.clock import ManualClock
from app.core.errors import Conflict, InvalidInput, UnsupportedMediaType
from app.core.principals import LOCAL_PRINCIPAL
from app.knowledge.rows import DocumentStatus
from app.lifecycle import running_container
from app.services.ingest import INGEST_LEASE, IncomingFile, IngestOutcome
from tests.conftest import MakeSettings
from tests.support.knowledge import on_a_manual_clock

GUIDE = b"# Guide\n\nOtters hold hands while they sleep.\n"


def _file(name: str, data: bytes) -> IncomingFile:
    return IncomingFile(name, len(data), lambda: data)


def _outlive_its_lease(clock: ManualClock) -> None:
    """Move time past the lease, as if the ingest holding a document had died long ago."""
    clock.advance((INGEST_LEASE + timedelta(minutes=1)).total_seconds())


async def test_an_ingest_that_died_part_way_is_taken_over_after_its_lease(
    make_settings: MakeSettings,
) -> None:
    async with running_container(make_settings()) as container:
        clock = on_a_manual_clock(container)
        versions, service = container.document_versions(), container.ingest_service()
        # What a process that died between reserving and publishing leaves behind.
        stuck = await versions.reserve_new("default", "guide.md", "other", "text/markdown", 1)
        with pytest.raises(Conflict, match="being ingested"):
            await service.ingest_one(_file("guide.md", GUIDE), "default", LOCAL_PRINCIPAL)

        _outlive_its_lease(clock)
        result = await service.ingest_one(_file("guide.md", GUIDE), "default", LOCAL_PRINCIPAL)
        assert result.outcome == IngestOutcome.ADDED
        assert result.document.status == DocumentStatus.READY
        assert await container.document_lookup().get(stuck.id) is None


async def test_the_same_content_stuck_half_ingested_is_ingested_again_not_unchanged(
    make_settings: MakeSettings,
) -> None:
    async with running_container(make_settings()) as container:
        clock = on_a_manual_clock(container)
        versions, service = container.document_versions(), container.ingest_service()
        first = await service.ingest_one(_file("guide.md", GUIDE), "default", LOCAL_PRINCIPAL)
        stuck_hash = first.document.content_hash
        await container.document_service().delete(first.document.id, LOCAL_PRINCIPAL)
        await versions.reserve_new("default", "guide.md", stuck_hash, "text/markdown", 1)
        _outlive_its_lease(clock)
        result = await service.ingest_one(_file("guide.md", GUIDE), "default", LOCAL_PRINCIPAL)
        assert result.outcome == IngestOutcome.ADDED
        assert result.document.status == DocumentStatus.READY
        assert result.document.chunk_count == 1


async def test_one_bad_file_stores_none_of_its_request(make_settings: MakeSettings) -> None:
    async with running_container(make_settings()) as container:
        service, documents = container.ingest_service(), container.document_service()
        before = (await documents.list_documents(None, 100, 0, LOCAL_PRINCIPAL)).total
        with pytest.raises(UnsupportedMediaType):
            await service.ingest(
                [_file("guide.md", GUIDE), _file("slides.pptx", b"PK")], "default", LOCAL_PRINCIPAL
            )
        with pytest.raises(InvalidInput, match="same name"):
            await service.ingest(
                [_file("a/guide.md", GUIDE), _file("a//guide.md", GUIDE + b"!")],
                "default",
                LOCAL_PRINCIPAL,
            )
        assert (await documents.list_documents(None, 100, 0, LOCAL_PRINCIPAL)).total == before


async def test_identical_content_under_another_name_is_the_existing_document(
    make_settings: MakeSettings,
) -> None:
    async with running_container(make_settings()) as container:
        service = container.ingest_service()
        first = await service.ingest_one(_file("guide.md", GUIDE), "default", LOCAL_PRINCIPAL)
        again = await service.ingest_one(
            _file("copy-of-guide.md", GUIDE), "default", LOCAL_PRINCIPAL
        )
        elsewhere = await service.ingest_one(_file("guide.md", GUIDE), "other", LOCAL_PRINCIPAL)
    assert again.outcome == IngestOutcome.UNCHANGED
    assert again.document.id == first.document.id
    assert again.document.name == "guide.md"
    assert elsewhere.outcome == IngestOutcome.ADDED  # collections are apart
    assert elsewhere.document.id != first.document.id
    assert isinstance(elsewhere.document.id, uuid.UUID)


async def test_a_file_edited_to_match_another_documents_content_is_still_updated(
    make_settings: MakeSettings,
) -> None:
    other = b"# Other\n\nBadgers dig setts.\n"
    async with running_container(make_settings()) as container:
        service = container.ingest_service()
        guide = await service.ingest_one(_file("guide.md", GUIDE), "default", LOCAL_PRINCIPAL)
        await service.ingest_one(_file("other.md", other), "default", LOCAL_PRINCIPAL)
        edited = await service.ingest_one(_file("guide.md", other), "default", LOCAL_PRINCIPAL)
        passages = await container.knowledge_search().search("badgers", "default")
    assert edited.outcome == IngestOutcome.UPDATED
    assert edited.document.id == guide.document.id
    assert {p.node.metadata["file_name"] for p in passages} == {"guide.md", "other.md"}


def _hold(container: Container, document_id: uuid.UUID) -> Awaitable[object]:
    """Mark a document as held by another ingest that is still running (within its lease)."""
    stale_before = container.clock().now() - INGEST_LEASE
    return container.document_versions().reserve_update(document_id, stale_before)


async def test_a_failure_while_storing_an_upload_undoes_every_file_of_it(
    make_settings: MakeSettings,
) -> None:
    notes_v1 = b"# Notes\n\nLighthouses are painted white.\n"
    notes_v2 = b"# Notes\n\nLighthouses are painted with zebra stripes.\n"
    busy_v2 = b"# Busy\n\nSomething new about kayaks.\n"
    async with running_container(make_settings()) as container:
        documents, service = container.document_lookup(), container.ingest_service()
        notes = await service.ingest_one(_file("notes.md", notes_v1), "default", LOCAL_PRINCIPAL)
        busy = await service.ingest_one(
            _file("busy.md", b"# Busy\n\nOld words.\n"), "default", LOCAL_PRINCIPAL
        )
        await _hold(container, busy.document.id)

        # notes.md and new.md are written first; busy.md, held by another ingest, fails last.
        with pytest.raises(Conflict, match=r"busy\.md"):
            await service.ingest(
                [
                    _file("notes.md", notes_v2),
                    _file("new.md", b"# New\n\nOtters.\n"),
                    _file("busy.md", busy_v2),
                ],
                "default",
                LOCAL_PRINCIPAL,
            )
        notes_after = await documents.get(notes.document.id)
        new_after = await documents.find_by_name("default", "new.md")
        zebra = await container.knowledge_search().search("zebra stripes", "default")

    assert new_after is None
    assert notes_after is not None
    assert notes_after.status == DocumentStatus.READY
    assert notes_after.version == 1
    assert notes_after.content_hash == notes.document.content_hash
    assert zebra == []


async def test_reuploading_the_old_content_during_an_update_is_a_conflict_not_unchanged(
    make_settings: MakeSettings,
) -> None:
    async with running_container(make_settings()) as container:
        service = container.ingest_service()
        guide = await service.ingest_one(_file("guide.md", GUIDE), "default", LOCAL_PRINCIPAL)
        # Another ingest is replacing guide.md; "unchanged" would let it overwrite this upload.
        await _hold(container, guide.document.id)
        with pytest.raises(Conflict, match="being ingested"):
            await service.ingest_one(_file("guide.md", GUIDE), "default", LOCAL_PRINCIPAL)


async def test_two_new_files_with_the_same_bytes_in_one_upload_are_one_document(
    make_settings: MakeSettings,
) -> None:
    async with running_container(make_settings()) as container:
        service = container.ingest_service()
        first, copy = await service.ingest(
            [_file("guide.md", GUIDE), _file("copy-of-guide.md", GUIDE)], "default", LOCAL_PRINCIPAL
        )
        named = await container.document_service().list_documents(
            "default", 100, 0, LOCAL_PRINCIPAL
        )

    assert (first.outcome, copy.outcome) == (IngestOutcome.ADDED, IngestOutcome.UNCHANGED)
    assert copy.document.id == first.document.id
    assert copy.document.status == DocumentStatus.READY
    assert [d.name for d in named.items if d.content_hash == first.document.content_hash] == [
        "guide.md"
    ]

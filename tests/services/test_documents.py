"""The documents service against a real database: pages of documents, a cited chunk in
context, deleting, and the requests it refuses."""

from __future__ import annotations

import uuid

import pytest

from app.core.chunks import CHUNK_ID_KEY
from app.core.errors import InvalidInput, NotFound
from app.core.principals import LOCAL_PRINCIPAL
from app.lifecycle import running_container
from app.services.documents import MAX_CONTEXT_RADIUS, MAX_PAGE_SIZE
from tests.conftest import MakeSettings
from tests.support.corpus import DOCUMENTS


async def test_a_cited_chunk_is_shown_in_its_document(make_settings: MakeSettings) -> None:
    async with running_container(make_settings()) as container:
        service = container.document_service()
        document = await service.find("default", "penguins.txt")
        [passage] = await container.knowledge_search().search("emperor penguins", "default")
        chunk_id = uuid.UUID(str(passage.node.metadata[CHUNK_ID_KEY]))

        shown = await service.get(document.id, LOCAL_PRINCIPAL, chunk_id, radius=MAX_CONTEXT_RADIUS)
        plain = await service.get(document.id, LOCAL_PRINCIPAL)

        assert shown.document == document == plain.document
        assert shown.context is not None
        assert [chunk.id for chunk in shown.context] == [chunk_id]
        assert shown.focus == chunk_id
        assert (plain.context, plain.focus) == (None, None)
        with pytest.raises(InvalidInput, match="context must be between"):
            await service.get(document.id, LOCAL_PRINCIPAL, chunk_id, radius=MAX_CONTEXT_RADIUS + 1)
        with pytest.raises(NotFound, match="no chunk"):
            await service.get(document.id, LOCAL_PRINCIPAL, uuid.uuid4())
        with pytest.raises(NotFound, match="no document"):
            await service.get(uuid.uuid4(), LOCAL_PRINCIPAL)


async def test_documents_come_in_pages_and_collections_with_their_counts(
    make_settings: MakeSettings,
) -> None:
    async with running_container(make_settings()) as container:
        service = container.document_service()
        first = await service.list_documents("default", 2, 0, LOCAL_PRINCIPAL)
        rest = await service.list_documents(None, 2, 2, LOCAL_PRINCIPAL)
        collections = await service.list_collections(LOCAL_PRINCIPAL)
        count = await service.count()
        for limit, offset in ((0, 0), (MAX_PAGE_SIZE + 1, 0), (1, -1)):
            with pytest.raises(InvalidInput):
                await service.list_documents(None, limit, offset, LOCAL_PRINCIPAL)
        with pytest.raises(InvalidInput, match="collection name"):
            await service.list_documents("no/such", 1, 0, LOCAL_PRINCIPAL)

    names = [d.name for d in [*first.items, *rest.items]]
    assert names == sorted(DOCUMENTS)
    assert (first.total, rest.total) == (len(DOCUMENTS), len(DOCUMENTS))
    assert [(c.name, c.document_count) for c in collections] == [("default", len(DOCUMENTS))]
    assert count == len(DOCUMENTS)


async def test_a_deleted_document_is_gone_at_once(make_settings: MakeSettings) -> None:
    async with running_container(make_settings()) as container:
        service = container.document_service()
        document = await service.find("default", "heartbeats.md")
        deleted = await service.delete(document.id, LOCAL_PRINCIPAL)
        assert deleted.id == document.id
        assert await service.count() == len(DOCUMENTS) - 1
        assert await container.knowledge_search().search("heartbeat", "default") == []
        with pytest.raises(NotFound, match="no document named"):
            await service.find("default", "heartbeats.md")
        with pytest.raises(NotFound):
            await service.delete(document.id, LOCAL_PRINCIPAL)

"""Dense and hybrid retrieval: vectors from a real OpenAI-compatible embeddings server (llama.cpp
over SmolLM2) stored in embedded Qdrant, kept in step with the registry."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli.local_files import incoming
from app.container import Container
from app.core.chunks import LiveChunk, index_text
from app.core.principals import LOCAL_PRINCIPAL
from app.core.settings import EmbeddingSettings, Settings
from app.lifecycle import running_container
from app.retrieval.dense import VectorStoreUnavailable
from app.retrieval.embeddings import EmbeddingsUnavailable
from app.services.ingest import IncomingFile
from tests.conftest import MakeSettings
from tests.support.llama_server import MODEL_ALIAS, llama_cpp_server
from tests.support.server import serve

pytestmark = pytest.mark.llamacpp

# Words no BM25 index of the test corpus holds, so only the vectors can find anything.
UNSEEN_WORDS = "zqxv wplk"


@pytest.fixture(scope="module")
def embeddings_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with llama_cpp_server(tmp_path_factory.mktemp("embeddings"), embeddings=True) as port:
        yield port


def _dense_settings(make_settings: MakeSettings, port: int, mode: str = "dense") -> Settings:
    return make_settings(
        embeddings={
            "provider": "openai",
            "model": MODEL_ALIAS,
            "base_url": f"http://127.0.0.1:{port}/v1",
        },
        retrieval={"mode": mode, "top_k": 3},
    )


async def _vector_count(container: Container) -> int:
    vectors = container.vector_index()
    assert vectors is not None
    return await asyncio.to_thread(vectors.count)


async def _chunk_total(container: Container) -> int:
    collections = await container.document_service().list_collections(LOCAL_PRINCIPAL)
    return sum(collection.chunk_count for collection in collections)


async def test_every_chunk_gets_a_vector_and_the_nearest_is_found(
    make_settings: MakeSettings, embeddings_port: int
) -> None:
    settings = _dense_settings(make_settings, embeddings_port)
    async with running_container(settings) as container:
        assert await _vector_count(container) == await _chunk_total(container) > 0
        # A passage's own words are nearest to it.
        question = "Emperor penguins breed during the Antarctic winter and huddle together"
        passages = await container.knowledge_search().search(question, "default")
        assert passages[0].node.metadata["file_name"] == "penguins.txt"
        assert all(-1.0 <= (p.score or 0.0) <= 1.0 for p in passages)


async def test_vectors_follow_updates_and_deletes(
    make_settings: MakeSettings, embeddings_port: int, tmp_path: Path
) -> None:
    settings = _dense_settings(make_settings, embeddings_port)
    notes = tmp_path / "notes.md"
    notes.write_text("# Gulls\n\nHerring gulls steal chips on the promenade.\n")
    async with running_container(settings) as container:
        ingest, service = container.ingest_service(), container.document_service()
        before = await _vector_count(container)
        added = await ingest.ingest_one(incoming(notes, "notes.md"), "default", LOCAL_PRINCIPAL)
        assert await _vector_count(container) == before + added.document.chunk_count

        notes.write_text("# Gulls\n\nGulls nest on roofs.\n\n## More\n\n" + "Gulls call. " * 200)
        updated = await ingest.ingest_one(incoming(notes, "notes.md"), "default", LOCAL_PRINCIPAL)
        assert updated.document.version == 2
        # The old version's vectors went with it.
        assert await _vector_count(container) == before + updated.document.chunk_count

        await service.delete(updated.document.id, LOCAL_PRINCIPAL)
        assert await _vector_count(container) == before
        passages = await container.knowledge_search().search("Gulls nest on roofs", "default")
        assert "notes.md" not in [p.node.metadata["file_name"] for p in passages]


async def test_hybrid_fuses_what_either_retriever_finds(
    make_settings: MakeSettings, embeddings_port: int
) -> None:
    settings = _dense_settings(make_settings, embeddings_port, mode="hybrid")
    async with running_container(settings) as container:
        search = container.knowledge_search()
        # Words BM25 has never seen: the dense side alone still offers passages.
        assert await search.search(UNSEEN_WORDS, "default")
        passages = await search.search("How do I cancel a stream?", "default")
        assert passages[0].node.metadata["file_name"] == "cancellation.md"
        # Reciprocal rank fusion scores: at most 1/60 from each of the two retrievers.
        assert all(0 < (p.score or 0.0) <= 2 / 60 for p in passages)
        assert len({p.node.node_id for p in passages}) == len(passages) == 3


async def test_a_server_answers_with_hybrid_retrieval(
    make_settings: MakeSettings, embeddings_port: int
) -> None:
    settings = _dense_settings(make_settings, embeddings_port, mode="hybrid")
    async with serve(settings) as server, server.client() as client:
        health = (await client.get("/healthz")).json()
        answer = await client.post("/api/chat", json={"query": "How do I cancel a stream?"})
    assert health["retrieval"] == "hybrid"
    assert answer.status_code == 200
    assert answer.json()["sources"][0]["document"] == "cancellation.md"


async def test_embedded_qdrant_belongs_to_one_process_and_says_so(
    make_settings: MakeSettings, embeddings_port: int
) -> None:
    settings = _dense_settings(make_settings, embeddings_port)
    async with running_container(settings) as holder:
        await holder.knowledge_search().search("warm", "default")  # opens embedded Qdrant
        other = Container(settings=settings)
        vectors = other.vector_index()
        assert vectors is not None
        with pytest.raises(VectorStoreUnavailable, match="CITESTREAM_QDRANT__URL"):
            await vectors.open()


async def test_an_unreachable_embeddings_server_fails_the_ingest_and_stores_nothing(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    settings = make_settings()
    # Port 9 (discard) has no listener here: the embeddings server is down.
    settings.embeddings = EmbeddingSettings(
        provider="openai", base_url="http://127.0.0.1:9/v1", model="x"
    )
    notes = tmp_path / "notes.md"
    notes.write_text("# Terns\n\nArctic terns fly pole to pole.\n")
    async with running_container(settings) as container:
        service = container.document_service()
        before = await service.list_documents(None, 100, 0, LOCAL_PRINCIPAL)
        with pytest.raises(EmbeddingsUnavailable, match=re.escape("127.0.0.1:9/v1")):
            await container.ingest_service().ingest_one(
                incoming(notes, "notes.md"), "default", LOCAL_PRINCIPAL
            )
        after = await service.list_documents(None, 100, 0, LOCAL_PRINCIPAL)
        assert after.total == before.total
        assert await container.document_lookup().find_by_name("default", "notes.md") is None


async def test_documents_ingested_before_embeddings_are_found_once_reembedded(
    make_settings: MakeSettings, embeddings_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings()  # the corpus, ingested with BM25 only: no vectors
    settings.embeddings = EmbeddingSettings(
        provider="openai", model=MODEL_ALIAS, base_url=f"http://127.0.0.1:{embeddings_port}/v1"
    )
    settings.retrieval.mode = "dense"
    question = "Emperor penguins breed during the Antarctic winter and huddle together"
    async with serve(settings):
        pass
    assert "run `citestream reembed`" in caplog.text
    async with running_container(settings) as container:
        assert await container.knowledge_search().search(question, "default") == []
        embedded = await container.reembedding_service().reembed()
        assert embedded == await _chunk_total(container) == await _vector_count(container)
        passages = await container.knowledge_search().search(question, "default")
        assert passages[0].node.metadata["file_name"] == "penguins.txt"


async def test_the_cli_says_why_it_cannot_ingest_beside_a_server_on_embedded_qdrant(
    make_settings: MakeSettings, embeddings_port: int, tmp_path: Path
) -> None:
    settings = _dense_settings(make_settings, embeddings_port)
    notes = tmp_path / "notes.md"
    notes.write_text("# Terns\n\nArctic terns fly pole to pole.\n")
    env = {
        **os.environ,
        "CITESTREAM_DATA_DIR": str(settings.data_dir),
        "CITESTREAM_EMBEDDINGS__PROVIDER": "openai",
        "CITESTREAM_EMBEDDINGS__MODEL": MODEL_ALIAS,
        "CITESTREAM_EMBEDDINGS__BASE_URL": settings.embeddings.base_url,
    }
    async with serve(settings):  # the server holds embedded Qdrant
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "app.cli", "ingest", str(notes), str(notes)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
    assert result.returncode == 1
    # Said once, with the ways out, rather than as a failure of every file.
    assert result.stderr.count("open in another process") == 1, result.stderr
    assert "POST /api/documents" in result.stderr
    assert "CITESTREAM_QDRANT__URL" in result.stderr


async def test_reembed_removes_vectors_no_chunk_is_served_by(
    make_settings: MakeSettings, embeddings_port: int
) -> None:
    settings = _dense_settings(make_settings, embeddings_port)
    async with running_container(settings) as container:
        vectors = container.vector_index()
        assert vectors is not None
        chunks = await _chunk_total(container)
        # A vector whose chunk is gone, as a delete that could not reach Qdrant leaves.
        orphan = LiveChunk(
            uuid.uuid4(), "Orphaned text.", None, None, uuid.uuid4(), "x.md", "X", "default"
        )
        await asyncio.to_thread(vectors.add, [orphan])
        assert await _vector_count(container) == chunks + 1
        assert await container.reembedding_service().reembed() == chunks
        assert await _vector_count(container) == chunks
        assert orphan.id not in (await asyncio.to_thread(vectors.point_ids))["default"]


async def test_each_collection_has_its_own_vectors(
    make_settings: MakeSettings, embeddings_port: int, tmp_path: Path
) -> None:
    settings = _dense_settings(make_settings, embeddings_port)
    notes = tmp_path / "leave.md"
    notes.write_text("# Leave\n\nParental leave lasts sixteen weeks at full pay.\n")
    question = "Parental leave lasts sixteen weeks at full pay."
    async with running_container(settings) as container:
        await container.ingest_service().ingest_one(
            incoming(notes, "leave.md"), "hr", LOCAL_PRINCIPAL
        )
        search = container.knowledge_search()
        found = await search.search(question, "hr")
        elsewhere = await search.search(question, "default")
        vectors = container.vector_index()
        assert vectors is not None
        stored = await asyncio.to_thread(vectors.point_ids)
    assert [p.node.metadata["file_name"] for p in found] == ["leave.md"]
    assert "leave.md" not in [p.node.metadata["file_name"] for p in elsewhere]
    assert set(stored) == {"default", "hr"}


async def test_concurrent_ingests_and_searches_keep_every_vector_with_its_chunk(
    make_settings: MakeSettings, embeddings_port: int
) -> None:
    settings = _dense_settings(make_settings, embeddings_port)
    animals = ["otters", "badgers", "herons", "voles", "newts", "stoats"]

    def note(animal: str) -> IncomingFile:
        data = f"# {animal}\n\nWild {animal} were counted along the river at dawn.\n".encode()
        return IncomingFile(f"{animal}.md", len(data), lambda: data)

    async with running_container(settings) as container:
        ingest, search = container.ingest_service(), container.knowledge_search()
        await asyncio.gather(
            *(ingest.ingest_one(note(animal), "default", LOCAL_PRINCIPAL) for animal in animals),
            *(search.search("river at dawn", "default") for _ in animals),
        )
        assert await _vector_count(container) == await _chunk_total(container)
        for animal in animals:
            # Exactly the text that was embedded for the chunk: its own vector is identical
            # (similarity 1), so it ranks first unless vectors and chunks got mixed up.
            text = f"Wild {animal} were counted along the river at dawn."
            passages = await search.search(index_text(animal, animal, text), "default")
            assert passages[0].node.metadata["file_name"] == f"{animal}.md"
            assert passages[0].score == pytest.approx(1.0, abs=1e-3)

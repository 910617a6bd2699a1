"""Lexical retrieval over the registry: BM25 per collection, following every change."""

from __future__ import annotations

from pathlib import Path

from app.cli.local_files import incoming
from app.container import Container
from app.core.principals import LOCAL_PRINCIPAL
from app.lifecycle import running_container
from tests.conftest import MakeSettings


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


async def _ingest(container: Container, path: Path, collection: str = "default") -> None:
    await container.ingest_service().ingest_one(
        incoming(path, path.name), collection, LOCAL_PRINCIPAL
    )


async def _documents(container: Container, question: str, collection: str = "default") -> list[str]:
    passages = await container.knowledge_search().search(question, collection)
    return [str(p.node.metadata["file_name"]) for p in passages]


async def test_bm25_matches_word_forms_titles_and_headings(make_settings: MakeSettings) -> None:
    async with running_container(make_settings()) as container:
        # "cancelling" in the question, "cancel" in the text: stemmed alike.
        assert (await _documents(container, "cancelling streams"))[0] == "cancellation.md"
        # Only the title says "Heartbeats"; the text says "heartbeat".
        assert (await _documents(container, "Heartbeats"))[0] == "heartbeats.md"
        assert await _documents(container, "xylophone") == []
        assert await _documents(container, "the of and") == []  # stop words only


async def test_search_follows_new_changed_and_deleted_documents(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    async with running_container(make_settings()) as container:
        notes = _write(tmp_path / "more", "birds.md", "# Birds\n\nPuffins nest on cliffs.\n")
        assert await _documents(container, "puffins") == []
        await _ingest(container, notes)
        assert await _documents(container, "puffins") == ["birds.md"]

        notes.write_text("# Birds\n\nGannets dive for fish.\n", encoding="utf-8")
        await _ingest(container, notes)
        assert await _documents(container, "puffins") == []
        assert await _documents(container, "gannets") == ["birds.md"]

        document = await container.document_service().find("default", "birds.md")
        await container.document_service().delete(document.id, LOCAL_PRINCIPAL)
        assert await _documents(container, "gannets") == []


async def test_a_deleted_document_is_not_served_even_from_an_index_being_rebuilt(
    make_settings: MakeSettings,
) -> None:
    # A search that may not wait answers from the index built before the change.
    settings = make_settings(retrieval={"rebuild_wait_s": 0})
    async with running_container(settings) as container:
        assert (await _documents(container, "cancel a stream"))[0] == "cancellation.md"
        document = await container.document_service().find("default", "cancellation.md")
        await container.document_service().delete(document.id, LOCAL_PRINCIPAL)
        assert "cancellation.md" not in await _documents(container, "cancel a stream")


async def test_collections_are_searched_apart(make_settings: MakeSettings, tmp_path: Path) -> None:
    async with running_container(make_settings()) as container:
        await _ingest(
            container, _write(tmp_path / "hr", "leave.md", "Parental leave: 16 weeks."), "hr"
        )
        assert await _documents(container, "parental leave", "hr") == ["leave.md"]
        assert await _documents(container, "parental leave") == []
        assert await _documents(container, "cancel a stream", "hr") == []
        assert await _documents(container, "anything", "no-such-collection") == []


async def test_top_k_and_the_score_cut_off_bound_the_passages(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    folder = tmp_path / "many"
    for number in range(8):
        _write(folder, f"note{number}.md", f"# Note {number}\n\nOtters hold hands {number} times.")
    settings = make_settings(retrieval={"top_k": 5})
    async with running_container(settings) as container:
        for path in sorted(folder.iterdir()):
            await _ingest(container, path)
        passages = await container.knowledge_search().search("otters", "default")
        assert len(passages) == 5
        scores = [p.score or 0.0 for p in passages]
        assert scores == sorted(scores, reverse=True)

    strict = make_settings(retrieval={"top_k": 5, "lexical_min_score": max(scores) + 1})
    async with running_container(strict) as container:
        assert await container.knowledge_search().search("otters", "default") == []

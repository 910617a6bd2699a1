"""The `citestream` command, run as a user runs it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from httpx_sse import aconnect_sse

from app.core.settings import LLMSettings, Settings
from tests.support.corpus import write_corpus
from tests.support.pdfs import pdf_bytes, shared_stream_pdf
from tests.support.processes import free_port, run_citestream
from tests.support.server import serve
from tests.support.sse import decode

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "corpus"
# Answered on page 2 of the sample travel policy, and nowhere else in the sample corpus.
PAGE_TWO_QUESTION = "What daily food allowance do I get on a work trip to Germany or Spain?"


def _citestream(*args: str, data_dir: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CITESTREAM_DATA_DIR": str(data_dir), **settings}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_ingest_then_ingest_again_changes_nothing(tmp_path: Path) -> None:
    docs = write_corpus(tmp_path / "docs")
    data = tmp_path / "data"
    first = _citestream("ingest", str(docs), data_dir=data)
    again = _citestream("ingest", str(docs), data_dir=data)
    assert first.returncode == 0, first.stderr
    assert "added 3, updated 0, unchanged 0, failed 0" in first.stdout
    assert "added 0, updated 0, unchanged 3, failed 0" in again.stdout


def test_ingest_reports_each_failure_with_its_reason_and_exits_1(tmp_path: Path) -> None:
    docs = write_corpus(tmp_path / "docs")
    (docs / "empty.md").write_text("  \n")
    (docs / "broken.pdf").write_bytes(pdf_bytes(["One page of text."])[:300])
    (docs / "notes.docx").write_bytes(b"PK\x03\x04")  # skipped inside a folder
    result = _citestream(
        "ingest", str(docs), str(tmp_path / "missing.md"), str(docs / "notes.docx"),
        data_dir=tmp_path / "data",
    )  # fmt: skip
    assert result.returncode == 1
    assert "added 3, updated 0, unchanged 0, failed 4" in result.stdout
    failures = dict(
        line.removeprefix("failed").strip().split(": ", 1)
        for line in result.stderr.splitlines()
        if line.startswith("failed")
    )
    assert failures[str(docs / "empty.md")] == "the file is empty"
    assert failures[str(docs / "broken.pdf")] == "the PDF is damaged and cannot be read"
    assert failures[str(tmp_path / "missing.md")] == "no such file or folder"
    assert failures[str(docs / "notes.docx")].startswith("unsupported type .docx")


def test_ingest_reads_files_under_the_same_limits_as_the_server(tmp_path: Path) -> None:
    docs = write_corpus(tmp_path / "docs")
    (docs / "shared.pdf").write_bytes(shared_stream_pdf(pages=5))  # minutes of pypdf work
    result = _citestream(
        "ingest", str(docs), data_dir=tmp_path / "data", CITESTREAM_LIMITS__PARSE_CPU_S="1"
    )
    assert result.returncode == 1
    assert "added 3, updated 0, unchanged 0, failed 1" in result.stdout
    assert f"failed    {docs / 'shared.pdf'}: reading it took more than 1 s of CPU time" in (
        result.stderr
    )
    assert "(CITESTREAM_LIMITS__PARSE_CPU_S)" in result.stderr


def test_a_changed_file_is_updated_and_globs_name_collections(tmp_path: Path) -> None:
    docs = write_corpus(tmp_path / "docs")
    data = tmp_path / "data"
    glob = str(docs / "**" / "*.md")
    first = _citestream("ingest", glob, "--collection", "ops", data_dir=data)
    assert "added 2, updated 0, unchanged 0, failed 0 (collection 'ops')" in first.stdout
    (docs / "heartbeats.md").write_text("# Heartbeats\n\nEvery ten seconds now.\n")
    second = _citestream("ingest", glob, "-c", "ops", data_dir=data)
    assert "added 0, updated 1, unchanged 1, failed 0" in second.stdout
    listing = _citestream("documents", "list", "--collection", "ops", data_dir=data)
    rows = [line.split("  ") for line in listing.stdout.splitlines()]
    assert [(row[1], row[2]) for row in rows] == [
        ("ops", "cancellation.md"),
        ("ops", "heartbeats.md"),
    ]


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    result = _citestream("db", "upgrade", data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "citestream.db").exists()


async def _cited(settings: Settings, question: str) -> list[dict[str, object]]:
    """The sources a streamed answer cites, read from its final `source` event."""
    async with (
        serve(settings) as server,
        httpx.AsyncClient(base_url=server.url, timeout=30) as client,
        aconnect_sse(client, "POST", "/api/chat/stream", json={"query": question}) as source,
    ):
        events = [decode(sse) async for sse in source.aiter_sse()]
    assert events[-1].event == "source", events[-1]
    return [s for s in events[-1].data if s["cited"]]


async def test_a_pdf_ingested_by_the_cli_is_cited_by_page_until_deleted(tmp_path: Path) -> None:
    # A folder of Markdown, HTML and a PDF, ingested with the command line.
    folder = tmp_path / "handbook"
    folder.mkdir()
    for name in ("travel-policy.pdf", "office-facilities.html", "employee-benefits.md"):
        shutil.copy(SAMPLES / name, folder / name)
    data = tmp_path / "data"
    ingested = _citestream("ingest", str(folder), data_dir=data)
    assert "added 3, updated 0, unchanged 0, failed 0" in ingested.stdout, ingested.stderr

    settings = Settings(
        _env_file=None, data_dir=data, llm=LLMSettings(provider="fake", fake_delay_ms=0)
    )
    cited = await _cited(settings, PAGE_TWO_QUESTION)
    assert any(s["document"] == "travel-policy.pdf" and s["page"] == 2 for s in cited), cited

    deleted = _citestream("documents", "delete", "travel-policy.pdf", data_dir=data)
    assert deleted.returncode == 0, deleted.stderr
    cited = await _cited(settings, PAGE_TWO_QUESTION)
    assert all(s["document"] != "travel-policy.pdf" for s in cited), cited


# Nothing listens on a port that was free a moment ago; the password must not be printed.
def _unreachable_postgres() -> str:
    return f"postgresql+asyncpg://citestream:hunter2@127.0.0.1:{free_port()}/citestream"


@pytest.mark.parametrize("command", [["serve"], ["db", "upgrade"], ["db", "downgrade"]])
def test_an_unreachable_database_is_one_line_and_exit_1(tmp_path: Path, command: list[str]) -> None:
    url = _unreachable_postgres()
    port = ["--port", str(free_port())] if command == ["serve"] else []
    result = run_citestream(*command, *port, tmp_path=tmp_path, CITESTREAM_DATABASE__URL=url)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [result.stderr.strip()], result.stderr
    assert result.stderr.startswith("error: cannot use the database at postgresql+asyncpg://")
    assert "Connect" in result.stderr or "refused" in result.stderr
    assert "hunter2" not in result.stderr


def test_a_bad_setting_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    result = run_citestream("serve", tmp_path=tmp_path, CITESTREAM_SERVER__PORT="eighty")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: invalid setting CITESTREAM_SERVER__PORT: Input should be a valid integer, "
        "unable to parse string as an integer"
    ]


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_citestream("serve", "--port", str(port), tmp_path=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [result.stderr.strip()], result.stderr
    assert result.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}: ")
    assert "address already in use" in result.stderr

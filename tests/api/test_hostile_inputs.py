"""Hostile input costs the server bounded work, on a real uvicorn server: a small PDF that would
take half an hour to read, text over the document limits, an oversized JSON body, too many
files, a client that leaves. Each is answered with a problem naming the limit, nothing is
stored, and the server keeps serving meanwhile. Limits are set small where the behaviour is the
same; what the defaults cost in time and memory is measured in bench/hostile_inputs.py."""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import Callable
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]
import pytest

from app.ingestion.isolation import IsolatedParser
from tests.api.test_documents import (
    CORPUS_DOCUMENTS,
    assert_problem,
    raw_connection,
    read_response,
    stored_state,
    upload,
)
from tests.conftest import MakeSettings
from tests.support.pdfs import shared_stream_pdf
from tests.support.server import LiveServer, serve

# Each page of it costs pypdf seconds of CPU: far more than any limit below allows.
SLOW_PDF = shared_stream_pdf(pages=20)
BEFORE = (CORPUS_DOCUMENTS, {"default"})
# Generous: these bound a wait for something that must happen, never a speed.
WAIT_S = 60.0


def parser_of(server: LiveServer) -> IsolatedParser:
    parser = server.container.document_parser()
    assert isinstance(parser, IsolatedParser)
    return parser


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT_S):
        while not condition():  # noqa: ASYNC110 - polling a counter of processes
            await asyncio.sleep(0.02)


async def refused_while_serving(
    server: LiveServer, client: httpx.AsyncClient, files: list[tuple[str, bytes]]
) -> tuple[httpx.Response, list[int]]:
    """Upload `files`; once their parse process runs, ask /healthz and a chat question."""
    uploading = asyncio.create_task(upload(client, files, "hostile"))
    await until(lambda: parser_of(server).running > 0 or uploading.done())
    served = []
    if not uploading.done():
        served.append((await client.get("/healthz")).status_code)
        served.append((await client.post("/api/chat", json={"query": "Heartbeats?"})).status_code)
    return await uploading, served


@pytest.mark.parametrize(
    ("limits", "setting"),
    [
        # Two seconds of the parse process's CPU are at least two seconds for the requests
        # sent meanwhile, however busy the machine.
        ({"parse_cpu_s": 2, "parse_wall_s": 600}, "CITESTREAM_LIMITS__PARSE_CPU_S"),
        ({"parse_cpu_s": 600, "parse_wall_s": 1}, "CITESTREAM_LIMITS__PARSE_WALL_S"),
    ],
    ids=["cpu time", "wall time"],
)
async def test_a_pdf_that_would_take_minutes_to_read_is_refused_at_its_limit(
    make_settings: MakeSettings, limits: dict[str, Any], setting: str
) -> None:
    make_settings()  # the test corpus is ingested under the default limits
    async with serve(make_settings(limits=limits)) as server, server.client() as client:
        response, served = await refused_while_serving(server, client, [("shared.pdf", SLOW_PDF)])
        after = await stored_state(client)
        running = parser_of(server).running
        # On main, the upload after such a PDF got a 500.
        following = await upload(client, [("next.md", b"# Next\n\nA plain file.\n")], "hostile")

    assert_problem(response, 422, "parse_limit_exceeded", "shared.pdf", setting)
    assert response.json()["errors"][0]["limit"] == setting
    if setting.endswith("CPU_S"):
        assert served == [200, 200]  # other requests were served while it was being read
    assert set(served) <= {200}
    assert after == BEFORE
    assert running == 0
    assert following.status_code == 201, following.text


async def test_a_parse_over_its_memory_limit_is_refused_naming_it(
    make_settings: MakeSettings,
) -> None:
    # The parse process starts at about 280 MB of address space; 40 MB of text is held in
    # memory several times over (bytes, decoded, cleaned) while it is read.
    limits = {"parse_memory_bytes": 300 * 1024 * 1024}
    ingestion = {
        "max_file_bytes": 64 * 1024 * 1024,
        "max_request_bytes": 64 * 1024 * 1024,
        "max_document_chars": 100_000_000,
    }
    text = b"lighthouse keeper " * (40 * 1024 * 1024 // 18)
    make_settings()  # the test corpus is ingested under the default limits
    settings = make_settings(limits=limits, ingestion=ingestion)
    async with serve(settings) as server, server.client() as client:
        response = await upload(client, [("huge.txt", text)], "hostile")
        after = await stored_state(client)

    assert_problem(
        response, 422, "parse_limit_exceeded", "huge.txt", "CITESTREAM_LIMITS__PARSE_MEMORY_BYTES"
    )
    assert after == BEFORE


TEXT = b"The lighthouse keeper logs every passing ship. " * 200  # 9,600 characters


@pytest.mark.parametrize(
    ("ingestion", "name", "data", "setting"),
    [
        (
            {"max_document_chars": 5000},
            "long.txt",
            TEXT,
            "CITESTREAM_INGESTION__MAX_DOCUMENT_CHARS",
        ),
        (
            # A PDF is refused at the page that passes the limit (its third, with 47,000
            # characters a page), not after reading all 200.
            {"max_document_chars": 100_000},
            "shared.pdf",
            shared_stream_pdf(pages=200, stream_bytes=200_000),
            "CITESTREAM_INGESTION__MAX_DOCUMENT_CHARS",
        ),
        (
            {"max_chunks_per_document": 3},
            "long.txt",
            TEXT,
            "CITESTREAM_INGESTION__MAX_CHUNKS_PER_DOCUMENT",
        ),
    ],
    ids=["text characters", "pdf characters", "chunks"],
)
async def test_a_document_over_the_text_or_chunk_limit_is_refused_naming_it(
    make_settings: MakeSettings, ingestion: dict[str, Any], name: str, data: bytes, setting: str
) -> None:
    make_settings()  # the test corpus is ingested under the default limits
    settings = make_settings(ingestion=ingestion, limits={"parse_wall_s": 600})
    async with serve(settings) as server, server.client() as client:
        good = ("good.md", b"# Good\n\nA small file that would be fine alone.\n")
        response = await upload(client, [good, (name, data)], "hostile")
        after = await stored_state(client)

    assert_problem(response, 413, "document_too_large", name, setting)
    assert after == BEFORE  # the good file of the same upload is not stored either


async def test_a_19_mb_text_file_is_taken_in_with_bounded_memory(
    make_settings: MakeSettings,
) -> None:
    # Under the 20 MB upload limit, so it must be accepted. Text without spaces is the kind that
    # once took 2.5 GB and seven minutes (the chunker cut it per character). The server runs in
    # this process: its resident memory is sampled while the file is read, and must grow by
    # far less than the 1 GB the issue allows (about 50 MB is usual; the time is bench's).
    # The parse's time limits are raised: on a slow machine sharing its cores with another test,
    # reading this file once took longer than the default 50 s, and what is tested here is memory.
    dump = base64.b64encode(random.Random(2).randbytes(19 * 1024 * 1024 * 3 // 4))
    process = psutil.Process()
    peak = baseline = process.memory_info().rss
    settings = make_settings(limits={"parse_cpu_s": 600, "parse_wall_s": 600})
    async with serve(settings) as server, server.client() as client:
        uploading = asyncio.create_task(upload(client, [("dump.txt", dump)], "hostile"))
        healthy = []
        while not uploading.done():
            peak = max(peak, process.memory_info().rss)
            healthy.append((await client.get("/healthz")).status_code)
            await asyncio.sleep(0.05)
        response = await uploading
        after = await stored_state(client)

    assert response.status_code == 201, response.text
    [result] = response.json()["documents"]
    assert result["document"]["chunk_count"] > 1000
    assert after == (CORPUS_DOCUMENTS + 1, {"default", "hostile"})
    assert healthy
    assert set(healthy) == {200}  # served all along
    assert peak - baseline < 1024 * 1024 * 1024


async def test_files_are_read_a_few_at_a_time_whoever_sends_them(
    make_settings: MakeSettings,
) -> None:
    # Each file's limits bound one parse; `parse_concurrency` bounds them all, so many costly
    # uploads at once queue rather than take every core from the answers being written.
    settings = make_settings(limits={"parse_concurrency": 1, "parse_cpu_s": 1, "parse_wall_s": 600})
    async with serve(settings) as server, server.client() as client:
        parser = parser_of(server)
        uploads = [
            asyncio.create_task(upload(client, [(f"slow-{n}.pdf", SLOW_PDF)], "hostile"))
            for n in range(3)
        ]
        most = 0
        while not all(task.done() for task in uploads):
            most = max(most, parser.running)
            await asyncio.sleep(0.01)
        responses = [await task for task in uploads]
        after = await stored_state(client)

    for response in responses:
        assert_problem(response, 422, "parse_limit_exceeded", "CITESTREAM_LIMITS__PARSE_CPU_S")
    assert most == 1
    assert after == BEFORE


async def test_twenty_one_files_are_refused_naming_the_limit(make_settings: MakeSettings) -> None:
    files = [(f"note-{n}.md", f"# Note {n}\n\nLighthouse {n}.\n".encode()) for n in range(21)]
    async with serve(make_settings()) as server, server.client() as client:
        response = await upload(client, files, "hostile")
        after = await stored_state(client)

    assert_problem(response, 413, "payload_too_large", "At most 20 files")
    assert after == BEFORE


# -- JSON bodies ----------------------------------------------------------------------------------

HUNDRED_MB = 100 * 1024 * 1024


def _post_head(url: str, *headers: str) -> bytes:
    lines = [
        "POST /api/chat HTTP/1.1",
        f"Host: {httpx.URL(url).netloc.decode()}",
        "Content-Type: application/json",
        *headers,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def test_a_100_mb_json_body_is_refused_before_it_is_read(
    make_settings: MakeSettings,
) -> None:
    async with serve(make_settings()) as server:
        async with raw_connection(server.url) as (reader, writer):
            writer.write(_post_head(server.url, f"Content-Length: {HUNDRED_MB}"))
            writer.write(b'{"query": "')
            await writer.drain()
            # Not another byte is sent: the answer comes without the body.
            response = await asyncio.wait_for(read_response(reader), WAIT_S)
            closed = await asyncio.wait_for(reader.read(), WAIT_S)
        sessions = (await server.probe.get("/api/sessions")).json()["total"]

    assert response.status == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["connection"] == "close"
    assert b'"payload_too_large"' in response.body
    assert b"CITESTREAM_LIMITS__MAX_BODY_BYTES" in response.body
    assert closed == b""  # the server closed the connection rather than read the rest
    assert sessions == 0


async def test_a_chunked_json_body_is_refused_once_it_passes_the_limit(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(limits={"max_body_bytes": 64 * 1024})
    async with serve(settings) as server:
        async with raw_connection(server.url) as (reader, writer):
            writer.write(_post_head(server.url, "Transfer-Encoding: chunked"))
            writer.write(_chunk(b'{"query": "' + b"a" * 16 * 1024))
            for _ in range(5):  # 96 kB in all: past the limit, and never finished
                writer.write(_chunk(b"a" * 16 * 1024))
            await writer.drain()
            response = await asyncio.wait_for(read_response(reader), WAIT_S)
        small = await server.probe.post("/api/chat", json={"query": "Heartbeats?"})

    assert response.status == 413
    assert b'"payload_too_large"' in response.body
    assert b"65536 bytes" in response.body
    assert small.status_code == 200  # a body under the limit is served as before


# -- a client that leaves -------------------------------------------------------------------------


async def test_a_client_that_leaves_while_its_file_is_read_stops_the_parse(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(limits={"parse_cpu_s": 600, "parse_wall_s": 600})
    async with serve(settings) as server, server.client() as client:
        uploading = asyncio.create_task(upload(client, [("shared.pdf", SLOW_PDF)], "hostile"))
        await until(lambda: parser_of(server).running > 0)
        healthz = await client.get("/healthz")
        chat = await client.post("/api/chat", json={"query": "Heartbeats?"})
        uploading.cancel()  # closes the connection
        await asyncio.gather(uploading, return_exceptions=True)
        # Its parse process is killed, rather than read on for minutes for nobody.
        await until(lambda: parser_of(server).running == 0)
        after = await stored_state(client)

    assert (healthz.status_code, chat.status_code) == (200, 200)  # served meanwhile
    assert after == BEFORE


async def test_a_client_that_leaves_mid_upload_leaves_nothing_behind(
    make_settings: MakeSettings,
) -> None:
    boundary = "hostile-boundary"
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="files"; filename="half.md"\r\n\r\n'
        "# Half\n\nThe rest of this file never arrives."
    ).encode()
    async with serve(make_settings()) as server:
        async with raw_connection(server.url) as (_reader, writer):
            writer.write(
                (
                    "POST /api/documents HTTP/1.1\r\n"
                    f"Host: {httpx.URL(server.url).netloc.decode()}\r\n"
                    f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                    f"Content-Length: {len(head) + 100_000}\r\n\r\n"
                ).encode()
                + head
            )
            await writer.drain()
        async with server.client() as client:
            served = await client.get("/healthz")
            after = await stored_state(client)

    assert served.status_code == 200
    assert after == BEFORE

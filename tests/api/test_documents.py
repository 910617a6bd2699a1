"""The documents API on a real uvicorn server: upload, browse, cite in context, delete."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, get_args

import httpx
import pytest

from app.api.document_schemas import DocumentStatus as WireStatus
from app.core.settings import Settings
from app.knowledge.rows import DocumentStatus
from tests.conftest import MakeSettings
from tests.support.pdfs import pdf_bytes
from tests.support.server import serve

PROBLEM_JSON = "application/problem+json"
HANDBOOK = "handbook"
CORPUS_DOCUMENTS = 3  # what make_settings ingests into the default collection

TRAVEL_MD = (
    b"# Travel Handbook\n\n"
    b"## Booking\n\n"
    b"Book flights through the travel portal at least two weeks before departure. "
    b"Close the portal connection before you cancel a booking.\n\n"
    b"## Meals\n\n"
    b"Meals are reimbursed up to forty euros per day when receipts are attached.\n\n"
    b"## Lodging\n\n"
    b"Hotels come from the approved lodging list; suites need a manager's approval.\n\n"
    b"## Mileage\n\n"
    b"Private car mileage is paid at thirty cents per kilometre.\n"
)
# The same file with a new section: its words appear in no other document.
TRAVEL_MD_V2 = TRAVEL_MD + (
    b"\n## Kayaks\n\nKayak rentals are reimbursed on the lagoon excursion only.\n"
)
POLICIES_HTML = (
    b"<html><head><title>Expense Policies</title></head><body>"
    b"<h1>Expenses</h1><p>Submit expense reports with receipts within a month of the trip.</p>"
    b"<h2>Equipment</h2><p>Laptops are replaced every four years.</p>"
    b"</body></html>"
)
GUIDE_PAGES = [
    "Badges are collected at the front desk on the first day.",
    "The library lends umbrellas and bicycles to staff.",
    "Fire drills happen on the first Monday of each month.",
]
GUIDE_PDF = pdf_bytes(GUIDE_PAGES, title="Staff Field Guide")

MEALS_QUESTION = "How much are meals reimbursed per day?"
RECEIPTS_QUESTION = "Where do receipts go?"
KAYAK_QUESTION = "Are kayak rentals on the lagoon paid?"

UploadFile = tuple[str, bytes]


# -- helpers --------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a real server over `settings`."""
    async with serve(settings) as server, server.client() as client:
        yield client


async def upload(
    client: httpx.AsyncClient, files: list[UploadFile], collection: str | None = HANDBOOK
) -> httpx.Response:
    """POST the files as repeated `files` parts of one multipart form."""
    data = {} if collection is None else {"collection": collection}
    parts = [("files", (name, content)) for name, content in files]
    return await client.post("/api/documents", files=parts, data=data)


async def upload_ok(
    client: httpx.AsyncClient, files: list[UploadFile], collection: str = HANDBOOK
) -> list[dict[str, Any]]:
    """Upload files that must be accepted; their ingest results."""
    response = await upload(client, files, collection)
    assert response.status_code in (200, 201), response.text
    results: list[dict[str, Any]] = response.json()["documents"]
    return results


async def ask(client: httpx.AsyncClient, query: str, **fields: str) -> dict[str, Any]:
    """A whole chat answer (POST /api/chat)."""
    response = await client.post("/api/chat", json={"query": query, **fields})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def cited_document_ids(answer: dict[str, Any]) -> set[str]:
    return {source["document_id"] for source in answer["sources"]}


async def list_documents(client: httpx.AsyncClient, **params: str | int) -> dict[str, Any]:
    response = await client.get("/api/documents", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def stored_state(client: httpx.AsyncClient) -> tuple[int, set[str]]:
    """How many documents there are, and which collections."""
    total = (await list_documents(client, limit=1))["total"]
    collections = (await client.get("/api/collections")).json()
    return total, {collection["name"] for collection in collections}


def assert_problem(response: httpx.Response, status: int, code: str, *mentions: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["status"] == status
    assert problem["code"] == code
    for mention in mentions:
        assert mention in problem["detail"], problem["detail"]
    assert "Traceback" not in response.text


def only(results: list[dict[str, Any]], name: str) -> dict[str, Any]:
    [match] = [result for result in results if result["document"]["name"] == name]
    return match


# -- uploading ------------------------------------------------------------------------------------


async def test_upload_of_several_files_adds_each_and_lists_them(
    make_settings: MakeSettings,
) -> None:
    files = [("travel.md", TRAVEL_MD), ("policies.html", POLICIES_HTML), ("guide.pdf", GUIDE_PDF)]
    async with running(make_settings()) as client:
        response = await upload(client, files)
        collections = (await client.get("/api/collections")).json()
        first = await list_documents(client, collection=HANDBOOK, limit=2, offset=0)
        second = await list_documents(client, collection=HANDBOOK, limit=2, offset=2)
        everything = await list_documents(client, limit=100)

    assert response.status_code == 201
    results = response.json()["documents"]
    assert [r["document"]["name"] for r in results] == ["travel.md", "policies.html", "guide.pdf"]
    expected = {
        "travel.md": ("text/markdown", "Travel Handbook", None, TRAVEL_MD),
        "policies.html": ("text/html", "Expense Policies", None, POLICIES_HTML),
        "guide.pdf": ("application/pdf", "Staff Field Guide", 3, GUIDE_PDF),
    }
    for result in results:
        document = result["document"]
        media_type, title, page_count, content = expected[document["name"]]
        assert result["outcome"] == "added"
        assert document["collection"] == HANDBOOK
        assert document["media_type"] == media_type
        assert document["title"] == title
        assert document["page_count"] == page_count
        assert document["chunk_count"] > 0
        assert document["status"] == "ready"
        assert document["version"] == 1
        assert document["size_bytes"] == len(content)
        assert document["content_hash"] == hashlib.sha256(content).hexdigest()
    # The PDF has text on every page, each page its own chunk at least.
    assert only(results, "guide.pdf")["document"]["chunk_count"] >= 3

    handbook = next(c for c in collections if c["name"] == HANDBOOK)
    assert handbook["document_count"] == 3
    assert handbook["chunk_count"] == sum(r["document"]["chunk_count"] for r in results)

    assert (first["total"], first["limit"], first["offset"]) == (3, 2, 0)
    assert [d["name"] for d in first["items"]] == ["guide.pdf", "policies.html"]
    assert (second["total"], second["limit"], second["offset"]) == (3, 2, 2)
    assert [d["name"] for d in second["items"]] == ["travel.md"]
    assert {d["id"] for d in first["items"] + second["items"]} == {
        r["document"]["id"] for r in results
    }
    assert everything["total"] == CORPUS_DOCUMENTS + 3


async def test_a_file_larger_than_the_memory_spool_arrives_intact(
    make_settings: MakeSettings,
) -> None:
    # Past 1 MB an upload is written to a temporary file, from a worker thread.
    words = random.Random(3).choices(["beacon", "keeper", "lantern", "tide", "reef"], k=300_000)
    content = b"# Logbook\n\n" + " ".join(words).encode() + b" lighthouse.\n"
    assert len(content) > 1_500_000
    async with running(make_settings()) as client:
        [result] = await upload_ok(client, [("logbook.md", content)])

    assert result["outcome"] == "added"
    assert result["document"]["size_bytes"] == len(content)
    assert result["document"]["content_hash"] == hashlib.sha256(content).hexdigest()


async def test_reuploading_the_same_content_changes_nothing(make_settings: MakeSettings) -> None:
    async with running(make_settings()) as client:
        [added] = await upload_ok(client, [("travel.md", TRAVEL_MD)])
        again = await upload(client, [("travel.md", TRAVEL_MD)])
        renamed = await upload(client, [("travel-copy.md", TRAVEL_MD)])
        listed = await list_documents(client, collection=HANDBOOK)

    original = added["document"]
    assert again.status_code == 200
    [same] = again.json()["documents"]
    assert same["outcome"] == "unchanged"
    assert same["document"]["id"] == original["id"]
    assert same["document"]["version"] == original["version"] == 1

    # Same bytes under another name: the existing document, not a copy.
    assert renamed.status_code == 200
    [existing] = renamed.json()["documents"]
    assert existing["outcome"] == "unchanged"
    assert existing["document"]["id"] == original["id"]
    assert existing["document"]["name"] == "travel.md"
    assert listed["total"] == 1
    assert [d["name"] for d in listed["items"]] == ["travel.md"]


async def test_a_changed_file_replaces_its_old_version(make_settings: MakeSettings) -> None:
    async with running(make_settings()) as client:
        [added] = await upload_ok(client, [("travel.md", TRAVEL_MD)])
        document_id = added["document"]["id"]
        before = await ask(client, MEALS_QUESTION, collection=HANDBOOK)
        old_chunks = [s["node_id"] for s in before["sources"] if s["document_id"] == document_id]
        kayak_before = await ask(client, KAYAK_QUESTION, collection=HANDBOOK)

        response = await upload(client, [("travel.md", TRAVEL_MD_V2)])
        old_chunk_lookups = [
            await client.get(f"/api/documents/{document_id}", params={"chunk_id": chunk})
            for chunk in old_chunks
        ]
        after = await ask(client, KAYAK_QUESTION, collection=HANDBOOK)
        meals_after = await ask(client, MEALS_QUESTION, collection=HANDBOOK)
        listed = await list_documents(client, collection=HANDBOOK)

    assert old_chunks, before["sources"]
    assert not any("Kayak" in s["text"] for s in kayak_before["sources"])

    assert response.status_code == 201
    [updated] = response.json()["documents"]
    assert updated["outcome"] == "updated"
    assert updated["document"]["id"] == document_id
    assert updated["document"]["version"] == 2
    assert updated["document"]["size_bytes"] == len(TRAVEL_MD_V2)
    assert updated["document"]["chunk_count"] == added["document"]["chunk_count"] + 1
    assert listed["total"] == 1

    for lookup in old_chunk_lookups:
        assert_problem(lookup, 404, "not_found", document_id)
    kayak = [s for s in after["sources"] if "Kayak rentals" in s["text"]]
    assert [s["document_id"] for s in kayak] == [document_id]
    # The unchanged sections are cited from the new version's chunks.
    assert not set(old_chunks) & {s["node_id"] for s in meals_after["sources"]}
    assert document_id in cited_document_ids(meals_after)


# -- a cited chunk in context ---------------------------------------------------------------------


async def test_a_cited_chunk_is_shown_with_its_neighbours(make_settings: MakeSettings) -> None:
    async with running(make_settings()) as client:
        results = await upload_ok(client, [("travel.md", TRAVEL_MD), ("guide.pdf", GUIDE_PDF)])
        travel_id = only(results, "travel.md")["document"]["id"]
        answer = await ask(client, MEALS_QUESTION, collection=HANDBOOK)
        [meals] = [s for s in answer["sources"] if "forty euros" in s["text"]]
        shown = await client.get(
            f"/api/documents/{travel_id}", params={"chunk_id": meals["node_id"], "context": 1}
        )
        alone = await client.get(
            f"/api/documents/{travel_id}", params={"chunk_id": meals["node_id"], "context": 0}
        )
        plain = await client.get(f"/api/documents/{travel_id}")

    assert meals["document_id"] == travel_id
    assert shown.status_code == 200
    detail = shown.json()
    assert detail["id"] == travel_id
    assert detail["name"] == "travel.md"
    assert detail["title"] == "Travel Handbook"
    context = detail["context"]
    assert [chunk["seq"] for chunk in context] == [0, 1, 2]
    assert [chunk["focus"] for chunk in context] == [False, True, False]
    assert context[1]["id"] == meals["node_id"]
    assert "forty euros" in context[1]["text"]
    assert context[1]["heading"] == "Travel Handbook > Meals"
    assert "travel portal" in context[0]["text"]
    assert "lodging list" in context[2]["text"]
    assert all(chunk["page"] is None for chunk in context)

    assert [(c["id"], c["focus"]) for c in alone.json()["context"]] == [(meals["node_id"], True)]
    assert plain.status_code == 200
    assert plain.json()["context"] is None


async def test_unknown_documents_and_chunks_are_not_found(make_settings: MakeSettings) -> None:
    missing = str(uuid.uuid4())
    async with running(make_settings()) as client:
        results = await upload_ok(client, [("travel.md", TRAVEL_MD), ("guide.pdf", GUIDE_PDF)])
        travel_id = only(results, "travel.md")["document"]["id"]
        guide_id = only(results, "guide.pdf")["document"]["id"]
        answer = await ask(client, MEALS_QUESTION, collection=HANDBOOK)
        travel_chunk = next(
            s["node_id"] for s in answer["sources"] if s["document_id"] == travel_id
        )

        no_document = await client.get(f"/api/documents/{missing}")
        no_document_with_chunk = await client.get(
            f"/api/documents/{missing}", params={"chunk_id": travel_chunk}
        )
        no_chunk = await client.get(f"/api/documents/{travel_id}", params={"chunk_id": missing})
        chunk_of_another = await client.get(
            f"/api/documents/{guide_id}", params={"chunk_id": travel_chunk}
        )
        too_wide = await client.get(
            f"/api/documents/{travel_id}", params={"chunk_id": travel_chunk, "context": 11}
        )

    assert_problem(no_document, 404, "not_found", missing)
    assert_problem(no_document_with_chunk, 404, "not_found", missing)
    assert_problem(no_chunk, 404, "not_found", missing)
    assert_problem(chunk_of_another, 404, "not_found", travel_chunk)
    assert_problem(too_wide, 422, "invalid_input", "context")


# -- deleting -------------------------------------------------------------------------------------


async def test_a_deleted_document_is_gone_and_no_longer_cited(make_settings: MakeSettings) -> None:
    async with running(make_settings()) as client:
        results = await upload_ok(
            client, [("travel.md", TRAVEL_MD), ("policies.html", POLICIES_HTML)]
        )
        travel_id = only(results, "travel.md")["document"]["id"]
        policies_id = only(results, "policies.html")["document"]["id"]
        before = await ask(client, RECEIPTS_QUESTION, collection=HANDBOOK)

        deleted = await client.delete(f"/api/documents/{travel_id}")
        fetched = await client.get(f"/api/documents/{travel_id}")
        after = await ask(client, RECEIPTS_QUESTION, collection=HANDBOOK)
        deleted_again = await client.delete(f"/api/documents/{travel_id}")
        listed = await list_documents(client, collection=HANDBOOK)

    assert cited_document_ids(before) == {travel_id, policies_id}
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_problem(fetched, 404, "not_found", travel_id)
    # Still answered from the collection, without the deleted document.
    assert cited_document_ids(after) == {policies_id}
    assert_problem(deleted_again, 404, "not_found", travel_id)
    assert [d["id"] for d in listed["items"]] == [policies_id]


# -- refused uploads ------------------------------------------------------------------------------


def _truncated_pdf() -> bytes:
    return GUIDE_PDF[: len(GUIDE_PDF) // 2]


@dataclass(frozen=True)
class BadUpload:
    """An upload that must be refused, and how."""

    case: str
    status: int
    code: str
    mentions: tuple[str, ...]
    files: list[UploadFile] = field(default_factory=list)
    collection: str = HANDBOOK
    ingestion: dict[str, int] = field(default_factory=dict)
    send: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]] | None = None


GOOD = ("good.md", b"# Good\n\nA perfectly fine file about lighthouses.\n")
RAW_BOUNDARY = "raw-upload-boundary"


def _file_part(name: str, content: bytes, *extra_headers: str) -> bytes:
    head = [f'Content-Disposition: form-data; name="files"; filename="{name}"', *extra_headers]
    return f"--{RAW_BOUNDARY}\r\n".encode() + "\r\n".join(head).encode() + b"\r\n\r\n" + content


def _post_raw(body: bytes) -> Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]:
    """Send a hand-written multipart body, for bodies no client library would produce."""
    content_type = f"multipart/form-data; boundary={RAW_BOUNDARY}"
    return lambda client: client.post(
        "/api/documents", content=body, headers={"content-type": content_type}
    )


BAD_UPLOADS = [
    BadUpload(
        "unsupported type",
        415,
        "unsupported_media_type",
        ("notes.docx", ".docx"),
        files=[("notes.docx", b"PK\x03\x04 not really a docx")],
    ),
    BadUpload(
        "JSON instead of multipart",
        415,
        "unsupported_media_type",
        ("multipart/form-data",),
        send=lambda client: client.post("/api/documents", json={"files": ["travel.md"]}),
    ),
    BadUpload("empty file", 422, "invalid_input", ("empty.md", "empty"), files=[("empty.md", b"")]),
    BadUpload(
        "whitespace-only Markdown",
        422,
        "invalid_input",
        ("blank.md",),
        files=[("blank.md", b"  \n\t\n   \n")],
    ),
    BadUpload(
        "random bytes named .pdf",
        422,
        "invalid_input",
        ("x.pdf",),
        files=[("x.pdf", random.Random(7).randbytes(4096))],
    ),
    BadUpload(
        "truncated PDF",
        422,
        "invalid_input",
        ("truncated.pdf", "damaged"),
        files=[("truncated.pdf", _truncated_pdf())],
    ),
    BadUpload(
        "one bad type among good files",
        415,
        "unsupported_media_type",
        ("notes.docx",),
        files=[GOOD, ("policies.html", POLICIES_HTML), ("notes.docx", b"PK\x03\x04")],
    ),
    BadUpload(
        "one corrupt PDF among good files",
        422,
        "invalid_input",
        ("broken.pdf",),
        files=[GOOD, ("policies.html", POLICIES_HTML), ("broken.pdf", _truncated_pdf())],
    ),
    BadUpload(
        "file over the size limit",
        413,
        "payload_too_large",
        ("big.txt", "100000 bytes"),
        files=[GOOD, ("big.txt", b"lighthouse " * (150_000 // 11))],
        ingestion={"max_file_bytes": 100_000},
    ),
    BadUpload(
        "more files than allowed",
        413,
        "payload_too_large",
        ("At most 2 files",),
        files=[GOOD, ("two.md", b"# Two\n\nSecond.\n"), ("three.md", b"# Three\n\nThird.\n")],
        ingestion={"max_files_per_request": 2},
    ),
    BadUpload(
        "files together over the request limit",
        413,
        "payload_too_large",
        ("MAX_REQUEST_BYTES",),
        files=[("one.txt", b"beacon " * 10_000), ("two.txt", b"signal " * 10_000)],
        ingestion={"max_file_bytes": 100_000, "max_request_bytes": 100_000},
    ),
    BadUpload(
        # python-multipart does not notice a missing closing boundary: the file being received
        # when the body ended would be silently dropped and the files before it ingested.
        "body cut off before its closing boundary",
        422,
        "invalid_input",
        ("malformed", "closing boundary"),
        send=_post_raw(
            _file_part(*GOOD) + b"\r\n" + _file_part("cut.md", b"# Cut\n\nThe end never comes")
        ),
    ),
    BadUpload(
        "part header over 4 KiB",
        422,
        "invalid_input",
        ("malformed", "header"),
        send=_post_raw(
            _file_part(*GOOD, "X-Padding: " + "a" * 8192) + f"\r\n--{RAW_BOUNDARY}--\r\n".encode()
        ),
    ),
    BadUpload(
        "too many form fields",
        422,
        "invalid_input",
        ("too many form fields",),
        send=lambda client: client.post(
            "/api/documents",
            data={f"field{n}": "x" for n in range(30)},
            files=[("files", GOOD)],
        ),
    ),
    BadUpload(
        "collection name with a path",
        422,
        "invalid_input",
        ("'../x'", "collection"),
        files=[GOOD],
        collection="../x",
    ),
    BadUpload(
        "collection name with a space",
        422,
        "invalid_input",
        ("'has space'", "collection"),
        files=[GOOD],
        collection="has space",
    ),
    BadUpload(
        "collection name ending in a newline",
        422,
        "invalid_input",
        ("collection",),
        files=[GOOD],
        collection="handbook\n",
    ),
]


@pytest.mark.parametrize("bad", BAD_UPLOADS, ids=[bad.case for bad in BAD_UPLOADS])
async def test_a_bad_upload_is_a_problem_and_stores_nothing(
    make_settings: MakeSettings, bad: BadUpload
) -> None:
    async with running(make_settings(ingestion=bad.ingestion)) as client:
        before = await stored_state(client)
        if bad.send is not None:
            response = await bad.send(client)
        else:
            response = await upload(client, bad.files, bad.collection)
        after = await stored_state(client)

    assert_problem(response, bad.status, bad.code, *bad.mentions)
    assert before == (CORPUS_DOCUMENTS, {"default"})
    assert after == before


# -- size limits enforced while the upload streams in ---------------------------------------------

LIMITS = {"max_file_bytes": 100_000, "max_files_per_request": 2}
BOUNDARY = "citestream-test-boundary"
READ_TIMEOUT_S = 3.0


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


async def read_response(reader: asyncio.StreamReader) -> RawResponse:
    """One HTTP/1.1 response with a Content-Length body."""
    status_line = await reader.readline()
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return RawResponse(int(status_line.split()[1]), headers, body)


@contextlib.asynccontextmanager
async def raw_connection(
    url: str,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    parsed = httpx.URL(url)
    assert parsed.port is not None
    reader, writer = await asyncio.open_connection(parsed.host, parsed.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def request_head(url: str, *headers: str) -> bytes:
    lines = [
        "POST /api/documents HTTP/1.1",
        f"Host: {httpx.URL(url).netloc.decode()}",
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
        *headers,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def test_a_declared_oversized_upload_is_refused_before_its_body_arrives(
    make_settings: MakeSettings,
) -> None:
    declared = 1_000_000_000  # far above 2 files x 100 kB
    async with serve(make_settings(ingestion=LIMITS)) as server:
        async with raw_connection(server.url) as (reader, writer):
            writer.write(request_head(server.url, f"Content-Length: {declared}"))
            await writer.drain()
            # No body is ever sent: a server that waited for it would time out here.
            response = await asyncio.wait_for(read_response(reader), READ_TIMEOUT_S)
        total = (await server.probe.get("/api/documents")).json()["total"]

    assert response.status == 413
    assert response.headers["content-type"] == PROBLEM_JSON
    assert b'"payload_too_large"' in response.body
    assert total == CORPUS_DOCUMENTS


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def test_a_streamed_file_is_refused_as_soon_as_it_passes_the_limit(
    make_settings: MakeSettings,
) -> None:
    limit = LIMITS["max_file_bytes"]
    part_head = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="collection"\r\n\r\n'
        f"{HANDBOOK}\r\n"
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="files"; filename="huge.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    # The file would be 10 times the limit; only limit + 64 kB of it is ever sent.
    sent_of_file = limit + 64 * 1024
    piece = b"lighthouse " * 1489  # ~16 kB

    async with serve(make_settings(ingestion=LIMITS)) as server:
        async with raw_connection(server.url) as (reader, writer):

            async def send_part_of_the_body() -> None:
                writer.write(request_head(server.url, "Transfer-Encoding: chunked"))
                writer.write(_chunk(part_head))
                sent = 0
                while sent < sent_of_file:
                    data = piece[: sent_of_file - sent]
                    writer.write(_chunk(data))
                    sent += len(data)
                    await writer.drain()
                # Neither the rest of the file, nor the closing boundary, nor the last chunk.

            sending = asyncio.create_task(send_part_of_the_body())
            try:
                response = await asyncio.wait_for(read_response(reader), READ_TIMEOUT_S)
            finally:
                sending.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await sending
        total = (await server.probe.get("/api/documents")).json()["total"]

    assert response.status == 413
    assert response.headers["content-type"] == PROBLEM_JSON
    assert b'"payload_too_large"' in response.body
    assert b"huge.txt" in response.body
    assert b"100000 bytes" in response.body
    assert total == CORPUS_DOCUMENTS


# -- chatting within a collection -----------------------------------------------------------------


async def test_chat_in_an_unknown_or_invalid_collection_is_a_problem(
    make_settings: MakeSettings,
) -> None:
    async with running(make_settings()) as client:
        unknown = await client.post("/api/chat", json={"query": "hi", "collection": "nope"})
        invalid = await client.post("/api/chat", json={"query": "hi", "collection": "has space"})
        sessions = (await client.get("/api/sessions")).json()

    assert_problem(unknown, 404, "not_found", "'nope'")
    assert_problem(invalid, 422, "invalid_input", "collection")
    assert "collection" in {error["field"] for error in invalid.json()["errors"]}
    assert sessions["total"] == 0


async def test_a_conversation_keeps_searching_its_collection(make_settings: MakeSettings) -> None:
    # A long fake rewrite of the follow-up is discarded, so the follow-up is searched as asked.
    settings = make_settings(llm={"fake_tokens": 200})
    follow_up = "How do I cancel the connection?"
    async with running(settings) as client:
        results = await upload_ok(
            client, [("travel.md", TRAVEL_MD), ("policies.html", POLICIES_HTML)]
        )
        handbook_ids = {result["document"]["id"] for result in results}
        first = await ask(client, MEALS_QUESTION, collection=HANDBOOK)
        continued = await ask(client, follow_up, session_id=first["session_id"])
        # The same words in a conversation of the default collection find the test corpus.
        elsewhere = await ask(client, follow_up)

    assert cited_document_ids(first) <= handbook_ids
    assert continued["session_id"] == first["session_id"]
    assert continued["sources"]
    assert cited_document_ids(continued) <= handbook_ids
    assert {s["metadata"]["collection"] for s in continued["sources"]} == {HANDBOOK}
    assert "cancellation.md" in {s["document"] for s in elsewhere["sources"]}
    assert not cited_document_ids(elsewhere) & handbook_ids


# -- OpenAPI --------------------------------------------------------------------------------------


async def test_openapi_describes_the_upload_as_a_multipart_file_array(
    make_settings: MakeSettings,
) -> None:
    async with running(make_settings()) as client:
        schema = (await client.get("/openapi.json")).json()
        docs = await client.get("/docs")

    body = schema["paths"]["/api/documents"]["post"]["requestBody"]
    form = body["content"]["multipart/form-data"]["schema"]
    if "$ref" in form:
        form = schema["components"]["schemas"][form["$ref"].rsplit("/", 1)[-1]]
    assert "files" in form["required"]
    files = form["properties"]["files"]
    assert files["type"] == "array"
    assert files["items"]["type"] == "string"
    assert files["items"]["format"] == "binary"
    assert docs.status_code == 200


def test_the_wire_status_names_every_status_a_document_can_have() -> None:
    # The API spells its own status type; a status added to the knowledge base must reach it.
    assert set(get_args(WireStatus)) == {status.value for status in DocumentStatus}

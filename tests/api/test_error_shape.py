"""One error shape for every input: problem+json with a stable code, never a 500, the same on
SQLite and PostgreSQL; and /openapi.json documents each of them as it is sent."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from tests.api.test_problems import _stored_rows
from tests.conftest import MakeSettings
from tests.support.server import serve

PROBLEM_JSON = "application/problem+json"


def _assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    return body


async def test_characters_a_database_cannot_store_are_422_naming_the_field(
    make_settings: MakeSettings, database_url: str
) -> None:
    async with serve(make_settings(database_url=database_url)) as server, server.client() as c:
        nul_query = await c.post("/api/chat/stream", json={"query": "cancel\u0000 a stream"})
        surrogate = await c.post(
            "/api/chat",
            content=b'{"query": "lone \\ud800 surrogate"}',
            headers={"Content-Type": "application/json"},
        )
        nul_get = await c.get("/api/chat/stream", params={"query": "a\u0000b"})
        answer = (await c.post("/api/chat", json={"query": "How do I cancel a stream?"})).json()
        stored = await _stored_rows(server)
        nul_title = await c.patch(
            f"/api/sessions/{answer['session_id']}", json={"title": "x\u0000y"}
        )
        title_after = (await c.get(f"/api/sessions/{answer['session_id']}")).json()["title"]

    for response, field in ((nul_query, "query"), (surrogate, "query"), (nul_get, "query")):
        body = _assert_problem(response, 422, "invalid_input")
        assert body["errors"][0]["field"] == field
        assert body["errors"][0]["type"] == "unstorable_character"
    body = _assert_problem(nul_title, 422, "invalid_input")
    assert body["errors"][0] == {
        "field": "title",
        "message": "The text contains U+0000, which cannot be stored; remove it.",
        "type": "unstorable_character",
    }
    assert stored == (1, 2)  # only the good question and its answer
    assert title_after == "How do I cancel a stream?"


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/sessions", {"offset": str(2**63)}, "offset"),
        ("/api/sessions", {"offset": str(2**31)}, "offset"),
        ("/api/sessions", {"limit": "101"}, "limit"),
        ("/api/documents", {"offset": "99999999999999999999"}, "offset"),
        ("/api/documents", {"limit": "0"}, "limit"),
        ("/api/documents", {"collection": ""}, "collection"),
    ],
)
async def test_out_of_range_paging_is_422(
    make_settings: MakeSettings, path: str, params: dict[str, str], field: str
) -> None:
    async with serve(make_settings()) as server, server.client() as client:
        response = await client.get(path, params=params)
    body = _assert_problem(response, 422, "invalid_input")
    assert body["errors"][0]["field"] == field


async def test_the_largest_offset_is_answered_on_both_databases(
    make_settings: MakeSettings, database_url: str
) -> None:
    async with serve(make_settings(database_url=database_url)) as server, server.client() as c:
        sessions = await c.get("/api/sessions", params={"offset": str(2**31 - 1)})
        documents = await c.get("/api/documents", params={"offset": str(2**31 - 1)})
    assert sessions.status_code == documents.status_code == 200
    assert sessions.json()["items"] == documents.json()["items"] == []


@pytest.mark.parametrize(
    "body",
    [
        b'{"query": "hi"',  # cut short
        b"\xff\xfe not UTF-8",
        # Deeper than any JSON parser recurses, and under the body limit (10^6 deep is over it:
        # see test_a_body_nested_a_million_deep_is_refused_unread).
        b"[" * 400_000 + b"]" * 400_000,
        b'{"query": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001,
    ],
    ids=["truncated", "not-utf8", "nested-4x10^5", "nested-object-10^5"],
)
async def test_a_body_that_is_not_json_is_422_as_documented(
    make_settings: MakeSettings, body: bytes
) -> None:
    async with serve(make_settings()) as server, server.client() as client:
        response = await client.post(
            "/api/chat", content=body, headers={"Content-Type": "application/json"}
        )
        still_fine = await client.get("/healthz")
    problem = _assert_problem(response, 422, "invalid_input")
    assert problem["detail"] == "The request body is not valid JSON."
    assert still_fine.status_code == 200


async def test_a_body_nested_a_million_deep_is_refused_unread(make_settings: MakeSettings) -> None:
    # 2 MB of brackets: the body limit answers before any parser sees it, and the same problem
    # shape says why.
    body = b"[" * 1_000_000 + b"]" * 1_000_000
    async with serve(make_settings()) as server, server.client() as client:
        response = await client.post(
            "/api/chat", content=body, headers={"Content-Type": "application/json"}
        )
        still_fine = await client.get("/healthz")
    problem = _assert_problem(response, 413, "payload_too_large")
    assert "CITESTREAM_LIMITS__MAX_BODY_BYTES" in problem["detail"]
    assert still_fine.status_code == 200


async def test_a_wrong_method_is_405_with_allow_naming_every_method_of_the_path(
    make_settings: MakeSettings,
) -> None:
    async with serve(make_settings()) as server, server.client() as client:
        runs = await client.request("TRACE", "/api/runs")
        session = await client.put(f"/api/sessions/{uuid.uuid4()}", json={})
    _assert_problem(runs, 405, "method_not_allowed")
    assert runs.headers["allow"] == "GET, HEAD, POST"
    _assert_problem(session, 405, "method_not_allowed")
    assert session.headers["allow"] == "DELETE, GET, HEAD, PATCH"


async def test_a_long_url_is_a_problem_whether_or_not_the_parser_takes_it(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(server={"max_url_chars": 2048})
    async with serve(settings) as server, server.client() as client:
        past_setting = await client.get("/api/chat/stream", params={"query": "a" * 3000})
        # More than uvicorn's parser takes (and more than httpx sends): the parser refuses it.
        past_parser = await _raw_exchange(
            server.url,
            b"GET /api/chat/stream?query=" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        fits = await client.get("/api/sessions", params={"limit": "1"})
    assert "MAX_URL_CHARS" in _assert_problem(past_setting, 414, "uri_too_long")["detail"]
    head, body = past_parser
    assert head.startswith(b"HTTP/1.1 414")
    assert b"content-type: application/problem+json" in head
    assert json.loads(body)["code"] == "uri_too_long"
    assert fits.status_code == 200


async def _raw_exchange(url: str, request: bytes) -> tuple[bytes, bytes]:
    """Send bytes no HTTP client would, read the reply to its end: (head, body)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        reply = await reader.read()
    finally:
        writer.close()
    head, _, body = reply.partition(b"\r\n\r\n")
    return head, body


async def test_malformed_http_is_a_problem_too(make_settings: MakeSettings) -> None:
    async with serve(make_settings()) as server:
        head, body = await _raw_exchange(
            server.url, b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\x01: y\r\n\r\n"
        )
    assert head.startswith(b"HTTP/1.1 400")
    assert b"content-type: application/problem+json" in head
    assert b'"code": "bad_request"' in body


async def test_openapi_documents_every_error_as_problem_json(make_settings: MakeSettings) -> None:
    """Problem+json everywhere, but OpenAI's error objects under `/v1/` (except 414, refused
    before any route runs)."""
    async with serve(make_settings()) as server, server.client() as client:
        spec = (await client.get("/openapi.json")).json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) < 400 or (path, status) == ("/readyz", "503"):
                    continue
                openai_error = path.startswith("/v1/") and status != "414"
                expected = ["application/json"] if openai_error else [PROBLEM_JSON]
                assert list(response["content"]) == expected, (method, path, status)
            if path.startswith(("/api/", "/v1/")):
                assert {"401", "429", "503"} <= set(operation["responses"]), (method, path)
            if "requestBody" in operation:
                invalid = "400" if path.startswith("/v1/") else "422"
                assert {"413", "415", invalid} <= set(operation["responses"]), (method, path)
    assert "HTTPValidationError" not in spec["components"]["schemas"]


async def test_openapi_states_the_servers_own_rules(make_settings: MakeSettings) -> None:
    settings = make_settings(chat={"max_query_chars": 123}, ingestion={"max_files_per_request": 7})
    async with serve(settings) as server, server.client() as client:
        spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    query = schemas["ChatRequest"]["properties"]["query"]
    assert query["maxLength"] == 123
    assert query["pattern"] == "^[^\\x00]*\\S[^\\x00]*$"  # not blank, no NUL
    get_query = spec["paths"]["/api/chat/stream"]["get"]["parameters"][0]["schema"]
    assert get_query["maxLength"] == 123
    upload = spec["paths"]["/api/documents"]["post"]["requestBody"]["content"]
    form = upload["multipart/form-data"]
    assert form["schema"]["properties"]["files"]["maxItems"] == 7
    assert ".pdf" in form["schema"]["properties"]["files"]["description"]
    assert "filename=" in form["encoding"]["files"]["headers"]["Content-Disposition"]["example"]
    assert "pattern" in form["schema"]["properties"]["collection"]
    assert schemas["SessionRename"]["properties"]["title"]["maxLength"] == 200
    offset = next(
        p for p in spec["paths"]["/api/sessions"]["get"]["parameters"] if p["name"] == "offset"
    )
    assert offset["schema"]["maximum"] == 2**31 - 1

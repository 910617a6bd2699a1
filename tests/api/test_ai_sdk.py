"""POST /api/ai-sdk/chat, its resume and its stop, driven by the Vercel AI SDK's own client (npm
`ai`, tests/clients/ai_sdk_chat.mjs): `DefaultChatTransport` validates every part against the
SDK's schemas and `readUIMessageStream` builds the message `useChat` would show.

One server for the module, with API keys (so auth is on): the owner's key (an admin, so that
the documented example's question reaches `default`) puts the test corpus in `default`, which
the chats name through the transport's `body`; a second key plays another principal. Each test
uses chat ids of its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.core.settings import AdmissionSettings, LLMSettings, Settings
from app.lifecycle import running_container
from tests.support.corpus import write_corpus
from tests.support.doc_examples import example
from tests.support.keys import bearer, create_key
from tests.support.processes import output_of
from tests.support.threaded_server import serve_in_thread

NODE = shutil.which("node")
CLIENTS = Path(__file__).parents[1] / "clients"
SCRIPT = CLIENTS / "ai_sdk_chat.mjs"
pytestmark = pytest.mark.skipif(
    (NODE is None or not (CLIENTS / "node_modules" / "ai").is_dir()) and not os.environ.get("CI"),
    reason="Node or the npm packages of tests/clients are missing (make node-packages)",
)

QUESTION = "How do I cancel a stream?"
# 30 tokens, one every 40 ms: about 1.2 s per answer, time enough to act in the middle of one.
TOKENS = 30
COLLECTION = "default"


@dataclass(frozen=True)
class Live:
    url: str
    owner_key: str
    other_key: str


async def _keys(settings: Settings) -> tuple[str, str]:
    async with running_container(settings) as container:
        owner = await create_key(container, "owner", admin=True)
        return owner, await create_key(container, "other")


def _upload_corpus(url: str, key: str, folder: Path) -> None:
    """Through the server, whose parser is already warm."""
    files = [("files", (p.name, p.read_bytes(), "text/plain")) for p in sorted(folder.iterdir())]
    with httpx.Client(base_url=url, headers=bearer(key), timeout=120) as client:
        response = client.post("/api/documents", files=files, data={"collection": COLLECTION})
    assert response.status_code < 300, response.text


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("ai-sdk")
    settings = Settings(
        _env_file=None,
        data_dir=root / "data",
        llm=LLMSettings(provider="fake", fake_tokens=TOKENS, fake_delay_ms=40),
        admission=AdmissionSettings(concurrent_runs=0, work_per_minute=0, requests_per_minute=0),
    )
    owner, other = asyncio.run(_keys(settings))
    with serve_in_thread(settings) as server:
        _upload_corpus(server.url, owner, write_corpus(root / "docs"))
        yield Live(server.url, owner, other)


async def ai_sdk(live: Live, chat_id: str, action: str = "send", **options: Any) -> Any:
    """Run the SDK client once; its JSON result."""
    assert NODE is not None, "CI needs Node for the AI SDK tests"
    arguments = {
        "url": live.url,
        "api_key": live.owner_key,
        "chat_id": chat_id,
        "action": action,
        "question": QUESTION,
        "collection": COLLECTION,
        **options,
    }
    out = await output_of(NODE, str(SCRIPT), json.dumps(arguments), cwd=CLIENTS, timeout_s=60)
    return json.loads(out.strip().splitlines()[-1])


def text_of(message: dict[str, Any]) -> str:
    return "".join(part["text"] for part in message["parts"] if part["type"] == "text")


def parts_of(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [part for part in message["parts"] if part["type"] == kind]


async def stored(live: Live, session_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=live.url, headers=bearer(live.owner_key)) as client:
        response = await client.get(f"/api/sessions/{session_id}")
    assert response.status_code == 200, response.text
    detail: dict[str, Any] = response.json()
    return detail


async def tokens_produced(live: Live) -> float:
    async with httpx.AsyncClient(base_url=live.url) as client:
        text = (await client.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "citestream_llm_tokens_total":
                return float(sample.value)
    raise AssertionError("no citestream_llm_tokens_total on /metrics")


async def test_a_whole_answer_arrives_with_its_sources_and_citations(live: Live) -> None:
    result = await ai_sdk(live, "whole-answer")
    assert result["status"] == "complete", result
    assert "error" not in result, result
    message = result["message"]
    types = result["chunk_types"]
    assert types[:2] == ["start", "text-start"], types
    assert types[-1] == "finish", types
    metadata = message["metadata"]
    assert message["id"] == metadata["message_id"]
    # The text is the answer Citestream stored, whole and once.
    [question, answer] = (await stored(live, metadata["session_id"]))["messages"]["items"]
    assert question["content"] == QUESTION
    assert text_of(message) == answer["content"]
    assert answer["status"] == "complete"
    # One source-document per retrieved source; the rest of each citation in data-citations.
    documents = parts_of(message, "source-document")
    assert {d["filename"] for d in documents} >= {"cancellation.md"}
    assert all(
        d["mediaType"] == "text/markdown" for d in documents if d["filename"].endswith(".md")
    )
    [citations] = parts_of(message, "data-citations")
    entries = citations["data"]
    assert [e["source_id"] for e in entries] == [d["sourceId"] for d in documents]
    assert [e["index"] for e in entries] == [s["index"] for s in answer["sources"]]
    assert [e["cited"] for e in entries] == [s["cited"] for s in answer["sources"]]
    assert any(e["cited"] for e in entries)
    cancellation = next(e for e in entries if e["document"] == "cancellation.md")
    assert cancellation["heading"] == "Cancelling a stream"
    assert "close the connection" in cancellation["snippet"]


async def test_a_follow_up_in_the_same_chat_continues_its_conversation(live: Live) -> None:
    first = await ai_sdk(live, "follow-up")
    second = await ai_sdk(live, "follow-up", question="And how often are heartbeats sent?")
    assert first["status"] == second["status"] == "complete", (first, second)
    session_id = first["message"]["metadata"]["session_id"]
    assert second["message"]["metadata"]["session_id"] == session_id
    detail = await stored(live, session_id)
    assert detail["message_count"] == 4
    contents = [m["content"] for m in detail["messages"]["items"]]
    assert contents[2] == "And how often are heartbeats sent?"
    assert contents[3] == text_of(second["message"])


async def test_an_answer_aborted_mid_way_resumes_whole_and_once(live: Live) -> None:
    # chat.stop() only aborts the fetch: the answer goes on, and a reload resumes it.
    result = await ai_sdk(live, "reload", action="reload", abort_after_deltas=3)
    aborted, resumed = result["aborted"], result["resumed"]
    assert aborted["status"] == "aborted", aborted
    partial = text_of(aborted["message"])
    assert partial
    assert resumed["status"] == "complete", resumed
    assert "error" not in resumed, resumed
    # A replay from the start: one `start`, which useChat takes as its cue to start afresh.
    assert resumed["chunk_types"].count("start") == 1
    text = text_of(resumed["message"])
    assert text.startswith(partial)
    assert len(text) > len(partial)
    assert resumed["message"]["id"] == aborted["message"]["id"]
    detail = await stored(live, resumed["message"]["metadata"]["session_id"])
    assert detail["message_count"] == 2
    assert detail["messages"]["items"][1]["content"] == text


async def test_resuming_a_chat_with_no_answer_in_progress_is_204(live: Live) -> None:
    assert (await ai_sdk(live, "never-asked", action="resume"))["status"] == "idle"
    async with httpx.AsyncClient(base_url=live.url, headers=bearer(live.owner_key)) as client:
        assert (await client.get("/api/ai-sdk/chat/never-asked/stream")).status_code == 204
        assert (await client.post("/api/ai-sdk/chat/never-asked/stop")).status_code == 204


async def test_stop_cancels_the_answer_and_its_model(live: Live) -> None:
    result = await ai_sdk(live, "stopped", stop_after_deltas=3)
    assert result["status"] == "complete", result
    assert result["stop"]["status"] == 200
    assert result["stop"]["body"]["status"] == "cancelled"
    # The stream ends as the SDK's own streams end when stopped: `abort`, not an error.
    assert result["chunk_types"][-2:] == ["text-end", "abort"], result["chunk_types"]
    assert "error" not in result
    run_id = result["message"]["metadata"]["run_id"]
    async with httpx.AsyncClient(base_url=live.url, headers=bearer(live.owner_key)) as client:
        run = (await client.get(f"/api/runs/{run_id}")).json()
    assert run["status"] == "cancelled"
    assert run["error_code"] == "cancelled"
    before = await tokens_produced(live)
    await asyncio.sleep(0.5)  # a dozen tokens' time
    assert await tokens_produced(live) == before
    detail = await stored(live, result["message"]["metadata"]["session_id"])
    answer = detail["messages"]["items"][1]
    assert answer["status"] == "interrupted"
    assert answer["content"] == text_of(result["message"])


async def test_another_principal_can_neither_resume_nor_stop_an_answer(live: Live) -> None:
    started = await ai_sdk(live, "mine", abort_after_deltas=1)
    assert started["status"] == "aborted", started
    async with httpx.AsyncClient(base_url=live.url, headers=bearer(live.other_key)) as other:
        assert (await other.get("/api/ai-sdk/chat/mine/stream")).status_code == 204
        assert (await other.post("/api/ai-sdk/chat/mine/stop")).status_code == 204
    # Meanwhile the owner's answer went on, and its owner can still follow it to the end.
    async with (
        httpx.AsyncClient(base_url=live.url, headers=bearer(live.owner_key)) as owner,
        owner.stream("GET", "/api/ai-sdk/chat/mine/stream") as response,
    ):
        assert response.status_code == 200
        body = await response.aread()
    assert body.endswith(b'data: {"type":"finish","finishReason":"stop"}\n\ndata: [DONE]\n\n')


async def test_requests_that_cannot_be_answered_are_refused_before_the_stream(
    live: Live,
) -> None:
    # The SDK throws with the response's text: the problem+json names what is wrong.
    unknown = await ai_sdk(live, "elsewhere", collection="no-such-collection")
    assert unknown["status"] == "failed", unknown
    assert "no-such-collection" in unknown["error"]
    message = {"id": "u", "role": "user", "parts": [{"type": "text", "text": QUESTION}]}
    async with httpx.AsyncClient(base_url=live.url, headers=bearer(live.owner_key)) as client:
        for body, field in [
            ({"id": "tab\there", "messages": [message]}, "id"),
            ({"id": "x" * 201, "messages": [message]}, "id"),
            # Resume and stop name the chat in their path: an id must be one path segment.
            ({"id": "team-7/support", "messages": [message]}, "id"),
            ({"id": "..", "messages": [message]}, "id"),
            ({"id": "no-question", "messages": [{**message, "role": "assistant"}]}, "messages"),
        ]:
            response = await client.post("/api/ai-sdk/chat", json=body)
            assert response.status_code == 422, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert [e["field"] for e in response.json()["errors"]] == [field]
        # Keys the SDK may add are ignored, not refused.
        extra: dict[str, Any] = {"id": str(uuid.uuid4()), "messages": [message], "x": 1}
        extra["collection"] = COLLECTION
        async with client.stream("POST", "/api/ai-sdk/chat", json=extra) as response:
            assert response.status_code == 200
            assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
            assert (await response.aread()).endswith(b"data: [DONE]\n\n")


# The documented example runs as written, against this server: its URL becomes the server's,
# and the owner's key rides on every request (the example leaves keys to the reader).
EXAMPLE_HARNESS = """
const [BASE, KEY] = process.argv.slice(2);
const nodeFetch = globalThis.fetch;
globalThis.fetch = (url, options = {}) =>
  nodeFetch(String(url).replace("http://127.0.0.1:8000", BASE), {
    ...options,
    headers: { ...options.headers, Authorization: `Bearer ${KEY}` },
  });
"""


async def test_the_documented_node_example_runs_as_written(live: Live, tmp_path: Path) -> None:
    assert NODE is not None, "CI needs Node for the AI SDK tests"
    code = example("docs/clients.md", "js", "readUIMessageStream")
    assert "http://127.0.0.1:8000/api/ai-sdk/chat" in code
    # Beside a link to the installed packages: ESM resolves `ai` from the script's folder.
    (tmp_path / "node_modules").symlink_to(CLIENTS / "node_modules")
    script = tmp_path / "example.mjs"
    script.write_text(EXAMPLE_HARNESS + code)
    out = await output_of(NODE, str(script), live.url, live.owner_key, timeout_s=60)
    [answer, *cited] = out.splitlines()
    assert answer.startswith("Citestream streams each token")
    assert cited
    assert all(line.startswith("[") for line in cited)
    assert any("cancellation.md: Cancelling a stream" in line for line in cited)

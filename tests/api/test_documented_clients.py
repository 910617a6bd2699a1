"""The client examples of docs/event-contract.md, docs/clients.md and the README, run as
written (read from the Markdown at test time) against a server whose 1 s heartbeats fall between
events, throughout an answer several heartbeats long: Python httpx-sse, fetch in Node, and
EventSource in Chromium."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.core.settings import Settings
from tests.conftest import MakeSettings
from tests.support.browser import CHROMIUM, launch
from tests.support.doc_examples import DOCUMENTED_URL, example
from tests.support.processes import output_of
from tests.support.server import LiveServer, serve

# One page with each client's minimal example.
CLIENTS = "docs/clients.md"
SOURCE_EVENT_PAGE = (
    "# The source event\n\nThe source event contains the passages an answer cites: for each, "
    "its document, title, page or heading, a snippet and its score.\n"
)
# 30 tokens, one every 150 ms: about 4.5 s of answer, so 4 heartbeats land between its events.
TOKENS = 30


def _settings(make_settings: MakeSettings) -> Settings:
    return make_settings(
        llm={"fake_tokens": TOKENS, "fake_delay_ms": 150}, chat={"heartbeat_s": 1.0}
    )


@contextlib.asynccontextmanager
async def _documented_server(make_settings: MakeSettings) -> AsyncIterator[LiveServer]:
    """A server that knows what the examples ask ("What does the source event contain?")."""
    async with serve(_settings(make_settings)) as server, server.client() as client:
        page = ("source-event.md", SOURCE_EVENT_PAGE.encode(), "text/markdown")
        uploaded = await client.post("/api/documents", files=[("files", page)])
        assert uploaded.status_code < 300, uploaded.text
        yield server


async def _heartbeats_seen(server: LiveServer) -> None:
    """Check that the stream these examples read really carries heartbeats between events."""
    async with (
        server.client() as client,
        client.stream("POST", "/api/chat/stream", json={"query": "How do I cancel a stream?"}) as r,
    ):
        raw = b"".join([chunk async for chunk in r.aiter_raw()])
    assert raw.count(b": ping") >= 2, raw[:2000]


async def test_the_documented_python_clients_run_as_written(make_settings: MakeSettings) -> None:
    contract = example("docs/event-contract.md", "python", 'connect_sse(client, "POST"')
    # The README's and docs/clients.md's print one line per event.
    per_event = [example(doc, "python", "event.json()") for doc in ("README.md", CLIENTS)]
    assert all(DOCUMENTED_URL in code for code in (contract, *per_event))
    async with _documented_server(make_settings) as server:
        await _heartbeats_seen(server)
        contract_out = await output_of(
            sys.executable, "-c", contract.replace(DOCUMENTED_URL, server.url)
        )
        outputs = [
            await output_of(sys.executable, "-c", code.replace(DOCUMENTED_URL, server.url))
            for code in per_event
        ]

    # The contract's example prints the answer as it streams, then the cited documents.
    assert contract_out.startswith("Citestream streams each token")
    assert "['source-event.md']" in contract_out
    # The others print one line per event: meta, the messages, source; nothing empty.
    for output in outputs:
        lines = output.splitlines()
        assert lines[0].startswith("meta 1 ")
        assert lines[-1].startswith("source ")
        assert all(line.split(" ")[0] in {"meta", "message", "source"} for line in lines)
        assert len(lines) == TOKENS + 2


NODE = shutil.which("node")

# Node has fetch but no page to resolve "/api/..." against: the harness gives the examples'
# relative URLs the server's origin, and supplies the `handle` callback they leave to the reader.
FETCH_HARNESS = """
const BASE = process.argv[2];
const nodeFetch = globalThis.fetch;
globalThis.fetch = (url, options) => nodeFetch(new URL(url, BASE), options);
const received = [];
function handle(event, data) { received.push({ event, data }); }
"""


@pytest.mark.skipif(NODE is None and not os.environ.get("CI"), reason="Node is not installed")
async def test_the_documented_fetch_clients_run_as_written(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    assert NODE is not None, "CI needs Node 20 for the fetch example"
    streaming = example("docs/event-contract.md", "js", "async function readEvents")
    following = example("docs/event-contract.md", "js", "async function followRun")
    minimal = example(CLIENTS, "js", "async function readEvents")
    scripts = {
        # Each script is a module of its own: the examples declare the same names.
        tmp_path / "contract.mjs": (streaming + following, 2),
        tmp_path / "clients.mjs": (minimal, 1),
    }
    for script, (code, _) in scripts.items():
        script.write_text(FETCH_HARNESS + code + "console.log(JSON.stringify(received));\n")
    async with _documented_server(make_settings) as server:
        results = [
            (json.loads(await output_of(NODE, str(script), server.url)), answers)
            for script, (_, answers) in scripts.items()
        ]

    # One answer per example: meta, messages, source each time.
    for received, answers in results:
        names = [item["event"] for item in received]
        assert names.count("meta") == answers
        assert names.count("source") == answers
        assert names[-1] == "source"
        words = " ".join(item["data"]["delta"] for item in received if item["event"] == "message")
        assert len(words.split()) == answers * TOKENS


# What the examples leave to the page: the question, the elements, and what "show" means. Each
# show function settles `window.outcome`, which the test awaits.
PAGE_HARNESS = """
let settle;
window.outcome = new Promise((resolve) => { settle = resolve; });
const question = "How do I cancel a stream?";
let sessionId = null;
const answer = { textContent: "" };
const output = answer;
const stopButton = {};
const showSources = (sources) => settle({ text: answer.textContent, sources });
const showCitations = showSources;
const showError = (...error) => settle({ text: answer.textContent, error });
const showConnectionError = () => settle({ text: answer.textContent, error: "connection" });
"""


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="no Chromium")
@pytest.mark.parametrize("document", ["docs/event-contract.md", "README.md", CLIENTS])
async def test_the_documented_event_source_runs_as_written(
    make_settings: MakeSettings, document: str
) -> None:
    from playwright.async_api import async_playwright

    code = example(document, "js", "new EventSource(")
    async with _documented_server(make_settings) as server, async_playwright() as playwright:
        browser = await launch(playwright)
        try:
            page = await browser.new_page()
            await page.goto(f"{server.url}/healthz")  # same origin as the API, like a frontend
            await page.add_script_tag(content=PAGE_HARNESS + code)
            outcome: dict[str, Any] = await page.evaluate("window.outcome")
        finally:
            await browser.close()

    assert "error" not in outcome, outcome
    assert len(outcome["text"].split()) == TOKENS
    assert outcome["sources"][0]["document"] == "cancellation.md"

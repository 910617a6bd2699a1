"""A real browser's EventSource receives the events and their ids (headless Chromium)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MakeSettings
from tests.support.browser import launch, require_chromium
from tests.support.server import serve
from tests.support.sse import answer_text, collect
from tests.support.tcp_proxy import running_proxy

pytestmark = pytest.mark.browser

QUESTION = {"query": "How do I cancel a stream?"}
STREAM_URL = "/api/chat/stream?query=How%20do%20I%20cancel%20a%20stream%3F"

require_chromium()

# What a frontend writes: listen per event type, close once `source` (or an `error` event with
# data) arrives. An `error` without data is the browser's own "connection lost": it reconnects
# by itself, with Last-Event-ID.
LISTEN = """
async (url) => await new Promise((resolve) => {
  window.received = [];
  window.dropped = 0;
  const source = new EventSource(url);
  const record = (type) => (event) => {
    if (type === "error" && !event.data) { window.dropped += 1; return; }
    window.received.push({type, id: event.lastEventId, data: JSON.parse(event.data)});
    if (type === "source" || type === "error") { source.close(); resolve(window.received); }
  };
  for (const type of ["meta", "message", "source", "error"]) {
    source.addEventListener(type, record(type));
  }
  setTimeout(() => { source.close(); resolve(window.received); }, 30000);
})
"""


async def test_event_source_in_chromium_gets_every_event_with_its_id(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    settings = make_settings(llm={"fake_tokens": 12, "fake_delay_ms": 10})
    async with serve(settings) as server, async_playwright() as playwright:
        browser = await launch(playwright)
        try:
            page = await browser.new_page()
            await page.goto(f"{server.url}/docs")  # same origin as the API, like a frontend
            received: list[dict[str, Any]] = await page.evaluate(LISTEN, STREAM_URL)
            # The console renders every endpoint from local assets (no CDN here).
            operations = page.locator(".opblock-summary-path")
            await operations.first.wait_for(timeout=60000)
            paths = set(await operations.all_inner_texts())
            await page.screenshot(path=str(tmp_path / "docs.png"), full_page=True)
        finally:
            await browser.close()

    types = [event["type"] for event in received]
    assert types[0] == "meta"
    assert types[-1] == "source"
    assert set(types[1:-1]) == {"message"}
    answer = "".join(event["data"]["delta"] for event in received if event["type"] == "message")
    assert len(answer.split()) == 12
    # Ids name the run, so a reconnecting EventSource finds it again: `<run_id>:<n>`.
    run_id = received[0]["data"]["run_id"]
    assert [event["id"] for event in received] == [
        f"{run_id}:{n}" for n in range(1, len(received) + 1)
    ]
    assert received[-1]["data"][0]["document"] == "cancellation.md"
    assert {"/api/chat/stream", "/api/chat", "/healthz", "/metrics"} <= {
        path.replace("\u200b", "") for path in paths
    }


async def test_an_event_source_whose_connection_is_cut_resumes_the_same_answer(
    make_settings: MakeSettings,
) -> None:
    from playwright.async_api import async_playwright

    settings = make_settings(llm={"fake_tokens": 60, "fake_delay_ms": 20})
    async with (
        serve(settings) as server,
        running_proxy(int(server.url.rsplit(":", 1)[1])) as proxy,
        async_playwright() as playwright,
    ):
        browser = await launch(playwright)
        try:
            page = await browser.new_page()
            await page.goto(f"http://127.0.0.1:{proxy.port}/healthz")  # the page's origin
            listening = asyncio.create_task(
                page.evaluate(
                    LISTEN, "/api/chat/stream?query=How%20do%20I%20cancel%20a%20stream%3F"
                )
            )
            await page.wait_for_function("window.received && window.received.length >= 8")
            await proxy.pause()  # the network drops: the connection is reset
            await page.wait_for_function("window.dropped >= 1")
            await proxy.resume()  # and comes back; the browser reconnects by itself
            received: list[dict[str, Any]] = await listening
        finally:
            await browser.close()
        uncut = answer_text(await collect(server.probe, "POST", "/api/chat/stream", json=QUESTION))

    types = [event["type"] for event in received]
    assert types[0] == "meta"
    assert types[-1] == "source"
    numbers = [int(event["id"].rpartition(":")[2]) for event in received]
    assert numbers == list(range(1, len(received) + 1))  # nothing missing, nothing twice
    text = "".join(event["data"]["delta"] for event in received if event["type"] == "message")
    assert text == uncut
    assert len(text.split()) == 60

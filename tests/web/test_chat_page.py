"""The chat page at `/`, driven in headless Chromium against a live server with the fake model."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from app.core.settings import ChatSettings, LLMSettings, Settings
from tests.support.browser import launch, require_chromium
from tests.support.corpus import write_corpus
from tests.support.keys import create_key
from tests.support.knowledge import ingest_paths_now
from tests.support.llms import BrokenLLM
from tests.support.server import LiveServer, serve
from tests.support.tcp_proxy import running_proxy

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

require_chromium()

# Long enough to watch, stop and reload mid-answer (about 3 s), short enough for the suite.
FAKE_MODEL = {"fake_tokens": 80, "fake_delay_ms": 40}
WAIT_MS = 30_000
# Every string that would run script if the page put it into HTML instead of text.
HOSTILE_NAME = '"><img src=x onerror="window.__pwned=1">quokka.md'
HOSTILE_TEXT = (
    "# Quokka <script>window.__pwned=1</script> facts\n\n"
    'Quokkas smile. <img src=x onerror="window.__pwned=1"> Quokkas live on Rottnest Island. '
    "<script>window.__pwned=1</script> Read [more quokka facts](javascript:window.__pwned=1).\n"
)


def page_settings(data_dir: Path, **sections: Any) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=data_dir,
        llm=LLMSettings(provider="fake", **FAKE_MODEL),
        chat=ChatSettings(),
        **sections,
    )


@dataclass
class Site:
    server: LiveServer
    browser: Any


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    """One server and one browser for the module; each test opens its own browser context."""
    from playwright.async_api import async_playwright

    root = tmp_path_factory.mktemp("page")
    settings = page_settings(root / "data")
    ingest_paths_now(settings, [write_corpus(root / "docs")])
    async with serve(settings) as server, async_playwright() as playwright:
        browser = await launch(playwright)
        try:
            yield Site(server, browser)
        finally:
            await browser.close()


@pytest_asyncio.fixture(loop_scope="module")
async def page(site: Site) -> AsyncIterator[Any]:
    """A fresh page (its own storage) on `/`, failing the test on any script error or alert."""
    context = await site.browser.new_context()
    page = await context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("dialog", lambda dialog: page.errors.append(f"dialog: {dialog.message}"))
    await page.goto(f"{site.server.url}/")
    await page.wait_for_selector("#collection option", state="attached")
    yield page
    errors = page.errors
    await context.close()
    assert errors == []


async def ask(page: Any, question: str) -> None:
    await page.get_by_test_id("question").fill(question)
    await page.get_by_test_id("question").press("Enter")


async def answered(page: Any) -> str:
    """Waits for the newest answer's sources, then returns its text."""
    await page.get_by_test_id("sources").last.wait_for(state="visible", timeout=WAIT_MS)
    text: str = await page.get_by_test_id("answer").last.inner_text()
    return text


async def words_at_least(page: Any, count: int) -> None:
    await page.wait_for_function(
        "(n) => { const a = [...document.querySelectorAll('[data-testid=answer]')].pop();"
        " return a && a.innerText.split(/\\s+/).filter(Boolean).length >= n; }",
        arg=count,
        timeout=WAIT_MS,
    )


def session_of(page: Any) -> Any:
    return page.evaluate("sessionStorage.getItem('citestream.session')")


async def stored_answer(site: Site, session_id: str) -> dict[str, Any]:
    detail = (await site.server.probe.get(f"/api/sessions/{session_id}")).json()
    answer: dict[str, Any] = detail["messages"]["items"][-1]
    return answer


def same_text(rendered: str, stored: str) -> bool:
    return " ".join(rendered.split()) == " ".join(stored.split())


async def test_the_page_is_served_with_a_strict_policy(site: Site) -> None:
    response = await site.server.probe.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    module = await site.server.probe.get("/static/app.js")
    assert module.headers["content-type"].startswith("text/javascript")
    schema = (await site.server.probe.get("/openapi.json")).json()
    assert "/" not in schema["paths"]
    missing = await site.server.probe.get("/static/nothing.js")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_an_answer_streams_in_with_citations_linked_to_their_sources(
    site: Site, page: Any
) -> None:
    await ask(page, "How do I cancel a stream?")
    answer = page.get_by_test_id("answer").last
    lengths: list[int] = []
    while not await page.get_by_test_id("sources").last.is_visible():
        lengths.append(len(await answer.inner_text()))
        await asyncio.sleep(0.1)
    text = await answered(page)
    grown = sorted(set(lengths) - {0})
    assert len(grown) >= 3, f"the answer did not grow in steps: {lengths}"
    assert grown[0] < len(text) / 2  # seen early, long before the end
    assert "[1]" in text
    assert await answer.locator("a.cite").count() == len(re.findall(r"\[\d+\]", text))
    # Each [n] is a link to its source in the sources panel, cited sources marked so.
    citation = answer.locator("a.cite").first
    target = await citation.get_attribute("href")
    assert target is not None
    source = page.get_by_test_id("sources").last.locator(target)
    assert "cited" in (await source.get_attribute("class") or "")
    assert "cancellation.md" in await source.inner_text()
    await citation.click()
    await page.wait_for_function(f"document.activeElement?.id === '{target[1:]}'")
    # Opening the passage in context shows the cited chunk, marked, in a dialog.
    await source.get_by_role("button", name=re.compile("in context")).click()
    dialog = page.locator("#passage")
    await dialog.locator(".chunk.focus").wait_for(timeout=WAIT_MS)
    assert "close the connection" in await dialog.locator(".chunk.focus").inner_text()
    await page.keyboard.press("Escape")
    await dialog.wait_for(state="hidden")
    stored = await stored_answer(site, await session_of(page))
    assert stored["status"] == "complete"
    assert same_text(text, stored["content"])


async def test_stop_cancels_the_model_and_keeps_the_partial_answer(site: Site, page: Any) -> None:
    await ask(page, "How do heartbeats work?")
    await words_at_least(page, 5)
    await page.get_by_test_id("stop").click()
    mark = page.locator(".answer-mark.stopped").last
    await mark.wait_for(timeout=WAIT_MS)
    tokens = await site.server.metric("citestream_llm_tokens_total")
    await asyncio.sleep(0.6)  # fifteen tokens' worth: the model would have gone on
    assert await site.server.metric("citestream_llm_tokens_total") == tokens
    partial = await page.get_by_test_id("answer").last.inner_text()
    assert 5 <= len(partial.split()) < FAKE_MODEL["fake_tokens"]
    assert "Stopped" in await mark.inner_text()
    assert await page.get_by_test_id("stop").is_hidden()
    stored = await stored_answer(site, await session_of(page))
    assert stored["status"] == "interrupted"
    assert same_text(partial, stored["content"])


async def test_a_reload_mid_answer_resumes_it_with_nothing_repeated(site: Site, page: Any) -> None:
    resumed_after: list[str] = []
    page.on(
        "request",
        lambda request: (
            resumed_after.append(request.headers.get("last-event-id", ""))
            if request.url.endswith("/events")
            else None
        ),
    )
    await ask(page, "What do penguins do in winter?")
    await words_at_least(page, 10)
    await page.reload()
    text = await answered(page)
    # The reloaded page resumed after the events it had shown; it did not replay the run.
    assert resumed_after[-1].isdigit()
    assert int(resumed_after[-1]) > 1
    stored = await stored_answer(site, await session_of(page))
    assert stored["status"] == "complete"
    assert same_text(text, stored["content"])
    assert len(text.split()) == FAKE_MODEL["fake_tokens"]
    assert await page.get_by_test_id("answer").count() == 1


async def test_a_dropped_network_mid_answer_resumes_it_with_nothing_repeated(site: Site) -> None:
    port = int(site.server.url.rsplit(":", 1)[1])
    async with running_proxy(port) as proxy:
        context = await site.browser.new_context()
        try:
            page = await context.new_page()
            await page.goto(f"http://127.0.0.1:{proxy.port}/")  # the page's origin
            await page.wait_for_selector("#collection option", state="attached")
            await ask(page, "What do penguins huddle for?")
            await words_at_least(page, 10)
            await proxy.pause()  # the network drops: the stream is reset, reconnects are refused
            await page.get_by_text("Cannot reach the server").wait_for(timeout=WAIT_MS)
            await proxy.resume()
            text = await answered(page)
            session = await session_of(page)
        finally:
            await context.close()
    stored = await stored_answer(site, session)
    assert stored["status"] == "complete"
    assert same_text(text, stored["content"])
    assert len(text.split()) == FAKE_MODEL["fake_tokens"]


async def test_an_uploaded_file_can_be_asked_about(page: Any) -> None:
    await page.locator("#files").set_input_files(
        files=[
            {
                "name": "zebras.md",
                "mimeType": "text/markdown",
                "buffer": b"# Zebras\n\nEvery zebra has a stripe pattern of its own, like a "
                b"fingerprint, and zebras sleep standing up.\n",
            }
        ]
    )
    result = page.locator(".upload-result:is(.added, .updated, .unchanged, .failed)").first
    await result.wait_for(timeout=WAIT_MS)
    assert await result.inner_text() == "added"
    assert await page.locator(".upload-name").first.inner_text() == "zebras.md"
    await ask(page, "Do zebras sleep standing up?")
    await answered(page)
    cited = page.get_by_test_id("sources").last.locator(".source.cited").first
    assert "zebras.md" in await cited.inner_text()


async def test_conversations_are_listed_and_reopened(site: Site, page: Any) -> None:
    await ask(page, "Where do emperor penguins breed?")
    first = await answered(page)
    first_session = await session_of(page)
    await page.get_by_role("button", name="New chat").click()
    await ask(page, "How often are heartbeats sent?")
    await answered(page)
    assert await session_of(page) != first_session
    sessions = page.locator("#sessions .session-open")
    assert await sessions.count() >= 2
    await page.locator(f"[data-session-id='{first_session}'] .session-open").click()
    await page.locator(".question-text", has_text="emperor penguins").wait_for(timeout=WAIT_MS)
    assert await page.get_by_test_id("answer").count() == 1
    assert same_text(await page.get_by_test_id("answer").last.inner_text(), first)
    assert "[1]" in await page.get_by_test_id("sources").last.inner_text()
    # Rename it from the sidebar.
    item = page.locator(f"[data-session-id='{first_session}']")
    await item.hover()
    await item.get_by_role("button", name=re.compile("^Rename")).click()
    await page.get_by_label("New title").fill("Penguins")
    await page.get_by_label("New title").press("Enter")
    await page.locator(f"[data-session-id='{first_session}']", has_text="Penguins").wait_for()
    detail = (await site.server.probe.get(f"/api/sessions/{first_session}")).json()
    assert detail["title"] == "Penguins"


async def test_markup_in_documents_and_answers_is_shown_as_text_and_never_runs(
    page: Any,
) -> None:
    await page.locator("#files").set_input_files(
        files=[{"name": HOSTILE_NAME, "mimeType": "text/markdown", "buffer": HOSTILE_TEXT.encode()}]
    )
    await page.locator(".upload-result.added").first.wait_for(timeout=WAIT_MS)
    assert "<img" in await page.locator(".upload-name").first.inner_text()
    await ask(page, "Where do quokkas live? Rottnest Island quokkas smile")
    await answered(page)
    sources = page.get_by_test_id("sources").last
    cited = sources.locator(".source", has_text="quokka").first
    shown = await cited.inner_text()
    assert "<img" in shown or "<script>" in shown
    await cited.get_by_role("button", name=re.compile("in context")).click()
    await page.locator("#passage .chunk.focus").wait_for(timeout=WAIT_MS)
    assert "javascript:" in await page.locator("#passage .chunk.focus").inner_text()
    await page.keyboard.press("Escape")
    # The answer renderer, fed the same markup as Markdown, keeps none of it live.
    rendered = await page.evaluate(
        """async (markdown) => {
            const { renderAnswer } = await import('/static/markdown.js');
            const box = document.createElement('div');
            box.append(renderAnswer(markdown, 'probe'));
            document.body.append(box);
            await new Promise((resolve) => setTimeout(resolve, 200));
            return {
              html: box.innerHTML,
              links: [...box.querySelectorAll('a')].map((a) => a.getAttribute('href')),
              live: box.querySelectorAll('script, img, iframe, [onerror]').length,
            };
        }""",
        HOSTILE_TEXT + "\nCited [1].",
    )
    assert rendered["live"] == 0
    assert all(href is None or not href.startswith("javascript") for href in rendered["links"])
    assert "#probe-1" in rendered["links"]
    assert await page.evaluate("window.__pwned") is None


async def test_a_server_that_needs_a_key_asks_for_one(
    site: Site, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("auth")
    settings = page_settings(root / "data", auth={"required": True})
    ingest_paths_now(settings, [write_corpus(root / "docs")])
    async with serve(settings) as server:
        key = await create_key(server.container, "reader", admin=True)
        context = await site.browser.new_context()
        try:
            page = await context.new_page()
            await page.goto(f"{server.url}/")
            await page.get_by_label("API key").fill("cs_not-a-key")
            await page.get_by_label("API key").press("Enter")
            await page.get_by_text("That key was not accepted.").wait_for(timeout=WAIT_MS)
            await page.get_by_label("API key").fill(key)

            async def slowly(route: Any) -> None:
                await asyncio.sleep(1.5)
                await route.continue_()

            # A slow server: the page is still loading the conversations when the question is
            # asked; when they arrive, the answer must go on as it was, not be interrupted.
            await page.route("**/api/sessions?*", slowly)
            follows: list[str] = []
            page.on("request", lambda r: follows.append(r.url) if "/events" in r.url else None)
            await page.get_by_role("button", name="Sign in").click()
            await page.locator("#sign-in").wait_for(state="hidden", timeout=WAIT_MS)
            await ask(page, "How do I cancel a stream?")
            assert "[1]" in await answered(page)
            assert len(follows) == 1, follows
            await page.get_by_role("button", name="Sign out").click()
            await page.get_by_label("API key").wait_for(timeout=WAIT_MS)
            refused = await page.evaluate("fetch('/api/sessions').then((r) => r.status)")
            assert refused == 401
        finally:
            await context.close()


async def test_errors_are_said_plainly(
    site: Site, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A server of its own, last in the module: two apps in one process share their routers'
    # wiring, so the module's server must not be needed after this one stops.
    root = tmp_path_factory.mktemp("errors")
    admission = {"work_per_minute": 1, "limit_local": True}
    settings = page_settings(root / "data", admission=admission)
    ingest_paths_now(settings, [write_corpus(root / "docs")])
    async with serve(settings, llm=BrokenLLM(good_tokens=3)) as server:
        context = await site.browser.new_context()
        try:
            page = await context.new_page()
            await page.goto(f"{server.url}/")
            await page.wait_for_selector("#collection option", state="attached")
            status = page.get_by_role("alert")

            # The model fails mid-answer: the text so far stays, marked, and the alert says why
            # in a sentence, without the internals of the failure.
            await ask(page, "How do I cancel a stream?")
            await page.get_by_text("Interrupted:").wait_for(timeout=WAIT_MS)
            assert "token2" in await page.get_by_test_id("answer").last.inner_text()
            said = await status.inner_text()
            assert said.strip()
            assert "model.py" not in said
            assert "Traceback" not in said

            # Over the key's budget of questions: 429, said with the wait.
            await ask(page, "And how do I resume one?")
            await page.get_by_text("Too many requests; try again in").wait_for(timeout=WAIT_MS)
            assert re.search(r"try again in \d+ s", await status.inner_text())
            # Nothing was asked: the question is kept to send again.
            assert await page.get_by_test_id("question").input_value() == "And how do I resume one?"
        finally:
            await context.close()

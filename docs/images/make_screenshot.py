"""Draws docs/images/chat-page.png: the chat page at `/` with an answer and its sources.

Runs what `make run` runs, in a scratch data folder: `citestream ingest docs`, `citestream ingest
samples/corpus --collection samples`, `citestream serve`, then asks one question in headless
Chromium (Debian's `chromium`, driven by Playwright) and saves the page. The model is the one the
environment configures (SmolLM2 by default); `CITESTREAM_LLM__PROVIDER=fake` draws it quickly.

    uv run python docs/images/make_screenshot.py [question] [collection]

The committed picture is what `make run` gives a newcomer: the embedded SmolLM2-135M over the
sample handbook:

    uv run python docs/images/make_screenshot.py "How many vacation days do I get?" samples
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The project's own helpers: the tests' Chromium and its flags, the benchmarks' free port.
sys.path.insert(0, str(ROOT))

from bench.servers import free_port  # noqa: E402
from tests.support.browser import CHROMIUM, launch  # noqa: E402

OUTPUT = Path(__file__).with_name("chat-page.png")
QUESTION = "How do I stop an answer that is streaming?"
COLLECTION = "default"


def _wait_ready(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("citestream serve stopped during start-up")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server was not ready within 2 minutes")


async def _draw(url: str, question: str, collection: str) -> None:
    from playwright.async_api import async_playwright

    if CHROMIUM is None:
        raise SystemExit("Chromium is not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        browser = await launch(playwright)
        page = await browser.new_page(viewport={"width": 1280, "height": 860})
        await page.goto(f"{url}/")
        await page.wait_for_selector("#collection option", state="attached")
        await page.select_option("#collection", collection)
        await page.get_by_test_id("question").fill(question)
        await page.get_by_test_id("question").press("Enter")
        await page.get_by_test_id("sources").last.wait_for(state="visible", timeout=300_000)
        await page.locator("#question").blur()
        await page.wait_for_timeout(300)
        await page.screenshot(path=str(OUTPUT))
        await browser.close()


def main() -> None:
    question = sys.argv[1] if len(sys.argv) > 1 else QUESTION
    collection = sys.argv[2] if len(sys.argv) > 2 else COLLECTION
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "CITESTREAM_DATA_DIR": data, "CITESTREAM_SERVER__PORT": str(port)}
        command = [sys.executable, "-m", "app.cli"]
        subprocess.run([*command, "ingest", "docs"], cwd=ROOT, env=env, check=True)
        subprocess.run(
            [*command, "ingest", "samples/corpus", "--collection", "samples"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        server = subprocess.Popen([*command, "serve"], cwd=ROOT, env=env)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, server)
            asyncio.run(_draw(url, question, collection))
        finally:
            server.terminate()
            server.wait(timeout=60)
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()

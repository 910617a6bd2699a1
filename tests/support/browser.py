"""Debian's headless Chromium, for the tests that drive a real browser (never a browser that
Playwright would download: these machines reach package registries only)."""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    """At a module's top: skip it on a laptop without Chromium; under CI, fail instead."""
    if CHROMIUM is not None:
        return
    if os.environ.get("CI"):
        raise RuntimeError("CI needs Chromium for the browser tests: `make test` installs it")
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)


async def launch(playwright: Any) -> Any:
    """A headless Chromium from Playwright's async API."""
    return await playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)

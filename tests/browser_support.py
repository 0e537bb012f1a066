"""Pages in a real headless Chromium: Debian's `chromium` driven by playwright (`executable_path`; the
browser playwright would download is never used). `./scripts/test` installs chromium when missing."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT = 15_000  # ms

# without chromium the browser tests are skipped, except under CI, where they must run
needs_chromium = pytest.mark.skipif(shutil.which(CHROMIUM) is None and not os.environ.get("CI"),
                                    reason="Debian's chromium is not installed (./scripts/test installs it)")


@asynccontextmanager
async def chromium() -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    """A headless Chromium for one test (registered in conftest.py for every browser test)."""
    async with chromium() as launched:
        yield launched

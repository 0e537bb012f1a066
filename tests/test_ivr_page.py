"""The IVR administration page (`/admin/ivr`) in a real headless Chromium against the running server:
the flows listed with their state, the diagram drawn, a broken edit refused with its line and column and
the running flow kept, a good edit put in service; a supervisor may look but not change.

`playwright` only drives Debian's chromium (`executable_path`), never a browser download.
Set IVR_SCREENSHOT=/path/file.png to keep a picture of the page.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from browser_support import WAIT, needs_chromium
from test_desktop_support import PASSWORDS, base_url, desktop_settings, running_center

from callcenter.app import CallCenter

playwright_api = pytest.importorskip("playwright.async_api")
expect = playwright_api.expect

ROOT = Path(__file__).resolve().parent.parent

pytestmark = needs_chromium


@pytest.fixture
async def center(tmp_path: Path) -> AsyncIterator[CallCenter]:
    flows = tmp_path / "ivr"
    shutil.copytree(ROOT / "config" / "ivr", flows)  # the page edits these copies, never the shipped files
    settings = desktop_settings(tmp_path)
    settings = settings.model_copy(update={"ivr": settings.ivr.model_copy(
        update={"flows_dir": flows, "prompts_dir": tmp_path / "prompts", "port": 0})})
    async with running_center(settings) as center:
        yield center


async def _page(browser: object, center: CallCenter, login: str) -> object:
    context = await browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    expected = ("401", "422")  # before signing in; the refused edit
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and not any(code in m.text for code in expected) else None)
    page.errors = errors
    await page.goto(base_url(center) + "/admin/ivr")
    await expect(page).to_have_url(base_url(center) + "/login?next=%2Fadmin%2Fivr", timeout=WAIT)
    await page.fill("input[name=login]", login)
    await page.fill("input[name=password]", PASSWORDS[login])
    await page.click("button[type=submit]")
    await expect(page).to_have_url(base_url(center) + "/admin/ivr", timeout=WAIT)
    return page


async def test_an_admin_sees_the_flows_and_their_diagram_and_edits_one(browser: object, center: CallCenter) -> None:
    page = await _page(browser, center, "admin")
    rows = page.locator("#flows tr")
    await expect(rows).to_have_count(3, timeout=WAIT)
    await expect(page.locator("#flows")).to_contain_text("in service")
    await page.click("#flows a:text-is('main')")
    await expect(page.locator("#flow-title")).to_contain_text("main")
    await expect(page.locator("#yaml")).to_have_value(
        (center.settings.ivr.flows_dir / "main.yaml").read_text(encoding="utf-8"), timeout=WAIT)
    picture = page.locator("#diagram")
    await expect(picture).to_have_attribute("src", re.compile(r"^/api/ivr/flows/main/diagram\?t=\d+$"))
    await page.wait_for_function("document.getElementById('diagram').complete && "
                                 "document.getElementById('diagram').naturalWidth > 300", timeout=WAIT)
    if shot := os.environ.get("IVR_SCREENSHOT"):
        await page.screenshot(path=shot, full_page=True)

    # a broken edit: refused with where and why; the file and the flow in service stay as they were
    original = await page.locator("#yaml").input_value()
    await page.fill("#yaml", original.replace("nodes:", "nodez:", 1))
    await page.click("#save")
    await expect(page.locator("#save-result")).to_contain_text("not saved", timeout=WAIT)
    await expect(page.locator("#error-list li").first).to_contain_text("line ")
    assert (center.settings.ivr.flows_dir / "main.yaml").read_text(encoding="utf-8") == original

    # a good edit goes into service
    edited = original.rstrip("\n") + "\n# edited on the page\n"
    await page.fill("#yaml", edited)
    await page.click("#save")
    await expect(page.locator("#save-result")).to_have_text("saved: in service now", timeout=WAIT)
    await expect(page.locator("#flow-errors")).to_be_hidden()
    assert (center.settings.ivr.flows_dir / "main.yaml").read_text(encoding="utf-8") == edited
    assert page.errors == []  # type: ignore[attr-defined]


async def test_a_supervisor_may_look_but_not_save(browser: object, center: CallCenter) -> None:
    page = await _page(browser, center, "supervisor")
    await expect(page.locator("#flows tr")).to_have_count(3, timeout=WAIT)
    await expect(page.locator("#flow-title")).not_to_be_empty(timeout=WAIT)
    await expect(page.locator("#save")).to_be_disabled()
    assert page.errors == []  # type: ignore[attr-defined]

"""The agent page's attended transfer in a real headless Chromium, against the real server on the simulated
PBX: agent1099 talks to a caller and consults agent1003 from the page ("Consult"); agent1003's page rings
with the caller's screen pop and answers; agent1099 completes the transfer; the call is agent1003's page's,
agent1099's page goes to wrap-up with the after-call form. A second consultation is cancelled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from browser_support import WAIT, needs_chromium
from test_desktop_browser import _signed_in_page
from test_desktop_support import AGENT, PASSWORDS, add_customer, desktop_settings, place_call, running_center

from acd.model import AgentState
from callcenter.app import CallCenter
from callcenter.auth.service import Role

playwright_api = pytest.importorskip("playwright.async_api")
expect = playwright_api.expect

NUMBER = "+1 212 555 0142"
OTHER = "agent1003"

pytestmark = needs_chromium


@pytest.fixture
async def center(tmp_path: Path) -> AsyncIterator[CallCenter]:
    async with running_center(desktop_settings(tmp_path)) as center:
        await center.auth.create_user("other", "Other Agent", Role.AGENT, PASSWORDS["other"], endpoint=OTHER)
        yield center


async def _ready(page: object) -> None:
    await page.click("#login")  # type: ignore[attr-defined]
    await expect(page.locator("#state-pill")).to_have_text("Ready", timeout=WAIT)  # type: ignore[attr-defined]


async def _talking(center: CallCenter, mine: object) -> None:
    place_call(center, NUMBER)
    await expect(mine.locator("#call-status")).to_have_text("Incoming call", timeout=WAIT)  # type: ignore[attr-defined]
    await mine.click("#answer")  # type: ignore[attr-defined]
    await expect(mine.locator("#call-status")).to_have_text("Talking", timeout=WAIT)  # type: ignore[attr-defined]


async def _consult(mine: object) -> None:
    await mine.select_option("#transfer-kind", "agent")  # type: ignore[attr-defined]
    await mine.fill("#transfer-to", OTHER)  # type: ignore[attr-defined]
    await mine.click("#transfer-attended")  # type: ignore[attr-defined]


async def test_consult_and_complete_a_transfer_from_the_page(browser: object, center: CallCenter) -> None:
    await add_customer(center, NUMBER)
    mine = await _signed_in_page(browser, center, "agent")
    theirs = await _signed_in_page(browser, center, "other")
    await _ready(mine)
    await _ready(theirs)
    await _talking(center, mine)
    await expect(mine.locator("#consult")).to_be_hidden()
    await mine.select_option("#transfer-kind", "queue")
    await expect(mine.locator("#transfer-attended")).to_be_disabled()  # a queue cannot be consulted

    await _consult(mine)
    # my page: consulting, the caller on hold; completing waits for the answer
    await expect(mine.locator("#call-status")).to_have_text("Consulting", timeout=WAIT)
    await expect(mine.locator("#consult-status")).to_have_text(f"Calling {OTHER}…", timeout=WAIT)
    await expect(mine.locator("#consult-complete")).to_be_disabled()
    await expect(mine.locator("#hangup")).to_be_disabled()
    # their page: the consultation rings, with the caller's screen pop
    await expect(theirs.locator("#call-status")).to_have_text(f"Consultation from {AGENT}", timeout=WAIT)
    await expect(theirs.locator("#pop-name")).to_have_text("Grace Hopper", timeout=WAIT)
    await expect(theirs.locator("#state-pill")).to_have_text("On a call", timeout=WAIT)  # busy from the ring
    await expect(theirs.locator("#transfer")).to_be_disabled()  # not their call (yet)
    await theirs.click("#answer")
    await expect(mine.locator("#consult-status")).to_have_text(f"Talking to {OTHER}", timeout=WAIT)

    await mine.click("#consult-complete")
    # the call is theirs: talking to the caller, with its controls; mine goes to wrap-up
    await expect(theirs.locator("#call-status")).to_have_text("Talking", timeout=WAIT)
    await expect(theirs.locator("#call-caller")).to_contain_text("Grace Hopper")
    await expect(theirs.locator("#hold")).to_be_enabled()
    await expect(mine.locator("#call-status")).to_have_text("No call", timeout=WAIT)
    await expect(mine.locator("#state-pill")).to_have_text("Wrap-up", timeout=WAIT)
    await expect(mine.locator("#after")).to_be_visible()
    assert center.routing.agent_states()[OTHER] is AgentState.ON_CALL
    [call] = [c for c in center.desktop.book.calls.values() if c.agent == OTHER]
    assert [t["kind"] for t in call.transfers] == ["attended"]
    assert mine.errors == [] and theirs.errors == []


async def test_cancel_a_consultation_from_the_page(browser: object, center: CallCenter) -> None:
    mine = await _signed_in_page(browser, center, "agent")
    theirs = await _signed_in_page(browser, center, "other")
    await _ready(mine)
    await _ready(theirs)
    await _talking(center, mine)
    await _consult(mine)
    await expect(theirs.locator("#call-status")).to_have_text(f"Consultation from {AGENT}", timeout=WAIT)
    await theirs.click("#answer")
    await expect(mine.locator("#consult-complete")).to_be_enabled(timeout=WAIT)
    await mine.click("#consult-cancel")
    # back to my caller; their page drops the call (no after-call form: it was never theirs)
    await expect(mine.locator("#call-status")).to_have_text("Talking", timeout=WAIT)
    await expect(mine.locator("#consult")).to_be_hidden()
    await expect(theirs.locator("#call-status")).to_have_text("No call", timeout=WAIT)
    await expect(theirs.locator("#after")).to_be_hidden()
    await expect(theirs.locator("#state-pill")).to_have_text("Ready", timeout=WAIT)
    assert mine.errors == [] and theirs.errors == []

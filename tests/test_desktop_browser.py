"""The agent page in a real headless Chromium (Debian's `chromium`), against the real server on the
simulated PBX: sign in, a ring pops the customer, answer / hold / transfer / hang up from the page, the
result saved, the page catching up after a server restart, and agents kept out of each other's data.

`playwright` only drives the browser: its own browser download is never used (`executable_path`).
Set DESKTOP_SCREENSHOT=/path/file.png to keep a picture of the page during a call.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from browser_support import WAIT, needs_chromium
from sqlalchemy import select
from test_desktop_support import (
    AGENT,
    PASSWORDS,
    add_customer,
    base_url,
    desktop_settings,
    place_call,
    running_center,
)

from callcenter.app import CallCenter
from callcenter.auth.service import Role
from callcenter.customers.models import InteractionRow, TicketRow

playwright_api = pytest.importorskip("playwright.async_api")
expect = playwright_api.expect

NUMBER = "+1 212 555 0142"

pytestmark = needs_chromium


@pytest.fixture
async def center(tmp_path: Path) -> AsyncIterator[CallCenter]:
    async with running_center(desktop_settings(tmp_path)) as center:
        await center.auth.create_user("other", "Other Agent", Role.AGENT, PASSWORDS["other"], endpoint="agent1003")
        yield center


async def _signed_in_page(browser: object, center: CallCenter, login: str, path: str = "/agent") -> object:
    context = await browser.new_context(viewport={"width": 1280, "height": 860})  # type: ignore[attr-defined]
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "401" not in m.text else None)
    page.errors = errors
    await page.goto(base_url(center) + path)
    await expect(page).to_have_url(base_url(center) + "/login?next=%2Fagent" if path == "/agent"
                                   else base_url(center) + "/login?next=%2Fsupervisor", timeout=WAIT)
    await page.fill("input[name=login]", login)
    await page.fill("input[name=password]", PASSWORDS[login])
    await page.click("button[type=submit]")
    await expect(page).to_have_url(base_url(center) + path, timeout=WAIT)
    await expect(page.locator("#link")).to_have_text("live", timeout=WAIT)
    return page


async def test_an_agent_takes_a_call_from_ring_to_result(browser: object, center: CallCenter) -> None:
    customer_id = await add_customer(center, NUMBER)
    page = await _signed_in_page(browser, center, "agent")
    await expect(page.locator("#sim-banner")).to_be_visible()
    await expect(page.locator("#me-endpoint")).to_have_text(AGENT)
    await page.click("#login")
    await expect(page.locator("#state-pill")).to_have_text("Ready", timeout=WAIT)
    # my queues: support is mine and ticked; an agent keeps at least one
    support = page.locator("#queues input[value=support]")
    await expect(support).to_be_checked()
    await support.click()  # the page ticks it again at once
    await expect(page.locator("#notice")).to_have_text("Keep at least one queue.")
    await expect(support).to_be_checked()
    assert center.routing.serving(AGENT) == ("support",)

    place_call(center, NUMBER)
    # the screen pop: who calls and why
    await expect(page.locator("#call-status")).to_have_text("Incoming call", timeout=WAIT)
    await expect(page.locator("#pop-name")).to_have_text("Grace Hopper", timeout=WAIT)
    await expect(page.locator("#pop-vip")).to_be_visible()
    await expect(page.locator("#pop-number")).to_have_text(NUMBER)
    await expect(page.locator("#pop-queue")).to_have_text("support")
    await expect(page.locator("#pop-tickets")).to_contain_text("Invoice shows the wrong address")

    await page.click("#answer")
    await expect(page.locator("#call-status")).to_have_text("Talking", timeout=WAIT)
    await expect(page.locator("#state-pill")).to_have_text("On a call", timeout=WAIT)
    await page.click("#hold")
    await expect(page.locator("#call-status")).to_have_text("On hold", timeout=WAIT)
    if os.environ.get("DESKTOP_SCREENSHOT"):
        await page.screenshot(path=os.environ["DESKTOP_SCREENSHOT"], full_page=True)
    await page.click("#hold")
    await expect(page.locator("#call-status")).to_have_text("Talking", timeout=WAIT)

    # blind transfer to the sales queue: the bot there takes the caller, the agent wraps up
    await page.select_option("#transfer-kind", "queue")
    await page.fill("#transfer-to", "sales")
    await page.click("#transfer")
    await expect(page.locator("#call-status")).to_have_text("No call", timeout=WAIT)
    await expect(page.locator("#state-pill")).to_have_text("Wrap-up", timeout=WAIT)
    await expect(page.locator("#wrapup-left")).to_have_text(re.compile(r"^\d+:\d\d$"), timeout=WAIT)
    await expect(page.locator("#after")).to_be_visible()

    await page.select_option("#disposition", "complaint")
    await page.fill("#notes", "Invoice to be sent again")
    await page.select_option("#ticket-mode", "new")
    await page.fill("#ticket-title", "Send the invoice again")
    await page.click("#after-form button[type=submit]")
    await expect(page.locator("#after-saved")).to_contain_text("Saved: complaint", timeout=WAIT)
    async with center.sessions() as session:
        interactions = (await session.scalars(select(InteractionRow))).all()
        tickets = (await session.scalars(select(TicketRow).order_by(TicketRow.id))).all()
    assert [(i.customer_id, i.agent, i.result, i.notes) for i in interactions] == [
        (customer_id, "agent", "complaint", "Invoice to be sent again")]
    assert [t.title for t in tickets] == ["Invoice shows the wrong address", "Send the invoice again"]

    # ready again; the next caller is answered and hung up from the page
    await page.click("#wrapup-end")
    await expect(page.locator("#state-pill")).to_have_text("Ready", timeout=WAIT)
    place_call(center, "5550177")
    await expect(page.locator("#pop-name")).to_have_text("Unknown caller", timeout=WAIT)
    await page.click("#answer")
    await expect(page.locator("#call-status")).to_have_text("Talking", timeout=WAIT)
    await expect(page.locator("#fig-calls")).to_have_text("2", timeout=WAIT)
    await page.click("#hangup")
    await expect(page.locator("#call-status")).to_have_text("No call", timeout=WAIT)
    await expect(page.locator("#after")).to_be_visible()
    await expect(page.locator("#after-customer-label")).to_be_visible()  # nobody identified: pick one
    assert page.errors == []


async def test_the_page_catches_up_after_a_server_restart(browser: object, tmp_path: Path) -> None:
    settings = desktop_settings(tmp_path)
    async with running_center(settings) as center:
        page = await _signed_in_page(browser, center, "agent")
        await page.click("#login")
        await expect(page.locator("#state-pill")).to_have_text("Ready", timeout=WAIT)
    # the server is gone: the page says so and keeps trying
    await expect(page.locator("#link")).to_contain_text("reconnecting", timeout=WAIT)
    async with running_center(settings) as center:
        # the same session (kept in the database); a new server run: the page takes a fresh snapshot
        await expect(page.locator("#link")).to_have_text("live", timeout=30_000)
        await expect(page.locator("#state-pill")).to_have_text("Logged out", timeout=WAIT)
        await page.click("#login")
        await expect(page.locator("#state-pill")).to_have_text("Ready", timeout=WAIT)
        await add_customer(center, NUMBER)
        place_call(center, NUMBER)
        await expect(page.locator("#pop-name")).to_have_text("Grace Hopper", timeout=WAIT)
    # Chromium logs each reconnect attempt refused while the server was down; nothing else went wrong
    assert [e for e in page.errors if "ERR_CONNECTION_REFUSED" not in e] == []


async def test_an_agent_cannot_read_another_agents_data(browser: object, center: CallCenter) -> None:
    await add_customer(center, NUMBER)
    mine = await _signed_in_page(browser, center, "agent")
    theirs = await _signed_in_page(browser, center, "other")
    await mine.click("#login")
    await expect(mine.locator("#state-pill")).to_have_text("Ready", timeout=WAIT)
    place_call(center, NUMBER)
    await expect(mine.locator("#pop-name")).to_have_text("Grace Hopper", timeout=WAIT)
    # over the websocket: the other agent's page shows nothing of it
    await expect(theirs.locator("#pop")).to_be_hidden()
    await expect(theirs.locator("#call-status")).to_have_text("No call")
    # over HTTP, from the other agent's page
    call_id = center.desktop.book.by_agent[AGENT]
    statuses = await theirs.evaluate("""async (callId) => {
        const get = async (path, method = "GET") => (await fetch(path, {method})).status;
        return [await get("/api/agents/agent1099/states?start=2020-01-01&end=2030-01-01"),
                await get(`/api/calls/${callId}/hangup`, "POST"),
                await get("/api/sim/phone/agent1099/answer", "POST"),
                await get("/api/agents/agent1099/logout", "POST")];
    }""", call_id)
    assert statuses == [403, 403, 403, 403]
    seen = await theirs.evaluate("""async () => [
        (await (await fetch("/api/agents")).json()).map((a) => a.agent_id),
        (await (await fetch("/api/calls/live")).json()).length]""")
    assert seen == [["agent1003"], 0]
    assert [e for e in theirs.errors if "403 (Forbidden)" not in e] == []  # the refusals above, nothing else

"""Call control and after-call work over HTTP, on the real server and the simulated PBX.

The person's phone (agent1099) is answered, held and resumed through the simulated-phone routes and the
call routes; blind transfers move the caller (AMI Redirect) to a queue, an agent or a number; the
disposition is stored for the customer the screen pop identified, with a ticket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from test_desktop_support import (
    AGENT,
    BOT,
    add_customer,
    at_work,
    desktop_settings,
    place_call,
    running_center,
    sign_in,
    until,
)

from acd.model import AgentState
from callcenter.app import CallCenter
from callcenter.auth.service import Role
from callcenter.customers.models import InteractionRow, TicketRow
from callcenter.desktop.calls import CallStatus, DeskCall

NUMBER = "+1 212 555 0142"


@pytest.fixture
async def center(tmp_path: Path) -> AsyncIterator[CallCenter]:
    async with running_center(desktop_settings(tmp_path)) as center:
        await center.auth.create_user("other", "Other Agent", Role.AGENT, "other-agent-password",
                                      endpoint="agent1003")
        yield center


@pytest.fixture
async def agent(center: CallCenter) -> AsyncIterator[httpx.AsyncClient]:
    async with at_work(center, "agent", AGENT) as http:
        yield http


async def _talking(center: CallCenter, http: httpx.AsyncClient) -> DeskCall:
    """A caller rings agent1099; the agent answers from the page's simulated phone."""
    place_call(center, NUMBER)
    book = center.desktop.book
    await until(lambda: book.agent_call(AGENT) is not None, what="ringing")
    response = await http.post(f"/api/sim/phone/{AGENT}/answer")
    assert response.status_code == 200, response.text
    await until(lambda: (c := book.agent_call(AGENT)) is not None and c.status is CallStatus.TALKING, what="talking")
    call = book.agent_call(AGENT)
    assert call is not None
    return call


async def test_hold_resume_and_transfer_to_a_queue(center: CallCenter, agent: httpx.AsyncClient) -> None:
    customer_id = await add_customer(center, NUMBER)
    call = await _talking(center, agent)
    assert call.customer_id == customer_id  # the screen pop identified the caller
    assert (await agent.post(f"/api/calls/{call.call_id}/hold")).status_code == 200
    await until(lambda: call.status is CallStatus.HELD, what="held")
    assert (await agent.post(f"/api/calls/{call.call_id}/resume")).status_code == 200
    await until(lambda: call.status is CallStatus.TALKING, what="resumed")
    response = await agent.post(f"/api/calls/{call.call_id}/transfer", json={"to": "queue:sales"})
    assert response.status_code == 200, response.text
    # the caller waits in sales, where the bot agent1002 answers; agent1099 goes to wrap-up
    await until(lambda: call.agent == BOT and call.status is CallStatus.TALKING, what="with the bot")
    assert center.routing.agent_states()[AGENT] == "wrap_up"
    assert call.handled_by == {AGENT, BOT}
    # the call is no longer agent1099's: no more control, but the result can be recorded
    assert (await agent.post(f"/api/calls/{call.call_id}/hangup")).status_code == 403
    response = await agent.post(f"/api/calls/{call.call_id}/disposition", json={
        "disposition": "complaint", "notes": "wrong address on the invoice",
        "ticket": {"title": "Resend the invoice", "description": "to the new address"}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["customer_id"] == customer_id and body["ticket"]["status"] == "open"
    async with center.sessions() as session:
        interactions = (await session.scalars(select(InteractionRow))).all()
        tickets = (await session.scalars(select(TicketRow).order_by(TicketRow.id))).all()
    assert [(i.customer_id, i.call_id, i.agent, i.result, i.notes) for i in interactions] == [
        (customer_id, call.call_id, "agent", "complaint", "wrong address on the invoice")]
    assert [t.title for t in tickets] == ["Invoice shows the wrong address", "Resend the invoice"]
    # the first ticket solved on the same form
    response = await agent.post(f"/api/calls/{call.call_id}/disposition", json={
        "disposition": "solved", "ticket": {"id": tickets[0].id, "status": "solved"}})
    assert response.status_code == 200 and response.json()["ticket"]["status"] == "solved"


async def test_blind_transfer_to_an_agent_and_hang_up(center: CallCenter, agent: httpx.AsyncClient) -> None:
    call = await _talking(center, agent)
    refused = await agent.post(f"/api/calls/{call.call_id}/transfer", json={"to": "agent:agent1003"})
    assert refused.status_code == 409 and "logged_out" in refused.json()["detail"]
    assert (await agent.post(f"/api/calls/{call.call_id}/transfer",  # consult a queue? (tests/test_desktop_atxfer)
                             json={"to": "queue:sales", "kind": "attended"})).status_code == 422
    response = await agent.post(f"/api/calls/{call.call_id}/transfer", json={"to": "agent:agent1002"})
    assert response.status_code == 200, response.text
    await until(lambda: call.agent == BOT and call.status is CallStatus.TALKING, what="with the bot")
    assert [t["kind"] for t in call.transfers] == ["redirect"]
    # the ACD knows the bot is busy with a call it did not route: no queued caller is offered to it
    assert center.routing.agent_states()[BOT] is AgentState.ON_CALL
    # a supervisor may hang up any call: the bot's leg goes, the caller hears goodbye
    staff = await sign_in(center, "supervisor")
    assert (await staff.post(f"/api/calls/{call.call_id}/hangup")).status_code == 200
    await until(lambda: call.status in (CallStatus.NO_AGENT, CallStatus.ENDED), what="hung up")
    await until(lambda: center.routing.agent_states()[BOT] is AgentState.AVAILABLE, what="the bot free again")
    await staff.aclose()


async def test_hang_up_from_the_page_and_transfer_to_a_number(center: CallCenter, agent: httpx.AsyncClient) -> None:
    call = await _talking(center, agent)
    assert (await agent.post(f"/api/calls/{call.call_id}/transfer", json={"to": "number:12ab"})).status_code == 422
    assert (await agent.post(f"/api/calls/{call.call_id}/transfer", json={"to": "queue:nowhere"})).status_code == 404
    assert (await agent.post(f"/api/calls/{call.call_id}/transfer", json={"to": "fax:1"})).status_code == 422
    response = await agent.post(f"/api/calls/{call.call_id}/transfer", json={"to": "number:5551234"})
    assert response.status_code == 200, response.text
    await until(lambda: call.agent is None, what="the agent left")
    assert (await agent.post(f"/api/agents/{AGENT}/wrap-up/end")).status_code == 200
    second = await _talking(center, agent)
    assert second.call_id != call.call_id
    assert (await agent.post(f"/api/calls/{second.call_id}/hangup")).status_code == 200
    await until(lambda: second.agent is None, what="hung up")
    assert center.routing.agent_states()[AGENT] == "wrap_up"


async def test_an_agent_acts_only_on_their_own_phone_and_calls(center: CallCenter, agent: httpx.AsyncClient) -> None:
    call = await _talking(center, agent)
    other = await sign_in(center, "other")
    assert (await other.post(f"/api/sim/phone/{AGENT}/hangup")).status_code == 403
    assert (await other.post(f"/api/calls/{call.call_id}/hold")).status_code == 403
    assert (await other.post(f"/api/calls/{call.call_id}/disposition",
                             json={"disposition": "solved"})).status_code == 403
    assert (await other.post("/api/sim/phone/agent1003/answer")).status_code == 409  # not ringing
    await other.aclose()
    # an unknown disposition, or no customer identified: refused with the reason
    bad = await agent.post(f"/api/calls/{call.call_id}/disposition", json={"disposition": "maybe"})
    assert bad.status_code == 422
    nobody = await agent.post(f"/api/calls/{call.call_id}/disposition", json={"disposition": "solved"})
    assert nobody.status_code == 409 and "customer_id" in nobody.json()["detail"]
    assert (await agent.post(f"/api/sim/phone/{AGENT}/dtmf", json={"digits": "12#"})).status_code == 200
    assert (await agent.post(f"/api/sim/phone/{AGENT}/dtmf", json={"digits": "x"})).status_code == 422
    assert (await agent.post(f"/api/sim/phone/{AGENT}/hangup")).status_code == 200
    await until(lambda: call.agent is None, what="hung up")
    config = (await agent.get("/api/desktop/config")).json()
    assert config["simulated"] is True and config["sip"] is None and "solved" in config["dispositions"]

"""Attended transfer from the desktop over HTTP, on the real server and the simulated PBX.

The person agent1099 talks to a caller and consults the person agent1003 ("other"), whose page's phone rings:
`POST /api/calls/{id}/transfer` with kind "attended" starts the consultation (AMI Atxfer), `.../transfer/
complete` joins the caller and agent1003 (AMI Hangup of agent1099's leg), `.../transfer/cancel` gives the
caller back (AMI CancelAtxfer). What the ACD makes of both agents is checked at each step.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from test_desktop_support import AGENT, at_work, desktop_settings, place_call, running_center, until
from trace_support import TRACES

from acd.model import AgentState
from callcenter.app import CallCenter
from callcenter.auth.service import Role
from callcenter.desktop.calls import CallBook, CallStatus, Change, DeskCall
from callcenter.replay import replay_events

OTHER = "agent1003"
NUMBER = "+1 212 555 0142"


@pytest.fixture
async def center(tmp_path: Path) -> AsyncIterator[CallCenter]:
    async with running_center(desktop_settings(tmp_path)) as center:
        await center.auth.create_user("other", "Other Agent", Role.AGENT, "other-agent-password", endpoint=OTHER)
        yield center


@pytest.fixture
async def agent(center: CallCenter) -> AsyncIterator[httpx.AsyncClient]:
    async with at_work(center, "agent", AGENT) as http:
        yield http


@pytest.fixture
async def other(center: CallCenter) -> AsyncIterator[httpx.AsyncClient]:
    async with at_work(center, "other", OTHER) as http:
        yield http


def state(center: CallCenter, agent: str) -> AgentState:
    return center.routing.agent_states()[agent]


async def talking(center: CallCenter, http: httpx.AsyncClient) -> DeskCall:
    place_call(center, NUMBER)
    book = center.desktop.book
    await until(lambda: book.agent_call(AGENT) is not None, what="ringing")
    assert (await http.post(f"/api/sim/phone/{AGENT}/answer")).status_code == 200
    await until(lambda: (c := book.agent_call(AGENT)) is not None and c.status is CallStatus.TALKING, what="talking")
    call = book.agent_call(AGENT)
    assert call is not None
    return call


async def consulting(center: CallCenter, agent: httpx.AsyncClient, call: DeskCall) -> None:
    response = await agent.post(f"/api/calls/{call.call_id}/transfer", json={"to": f"agent:{OTHER}",
                                                                             "kind": "attended"})
    assert response.status_code == 200, response.text
    assert response.json() == {"call_id": call.call_id, "to": f"agent:{OTHER}", "kind": "attended"}
    await until(lambda: call.consultation is not None and call.consultation.target_agent == OTHER, what="ringing")


async def test_consult_an_agent_who_answers_then_complete(center: CallCenter, agent: httpx.AsyncClient,
                                                          other: httpx.AsyncClient) -> None:
    call = await talking(center, agent)
    await consulting(center, agent, call)
    # the caller holds, agent1099 is still on the call; agent1003 is busy from the ring on
    assert call.status is CallStatus.CONSULTING and call.agent == AGENT
    assert (state(center, AGENT), state(center, OTHER)) == (AgentState.ON_CALL, AgentState.ON_CALL)
    assert center.desktop.book.agent_call(OTHER) is call  # agent1003's screen shows it, with a screen pop
    await until(lambda: call.screen_pop is not None and call.screen_pop["agent"] == OTHER, what="screen pop")
    early = await agent.post(f"/api/calls/{call.call_id}/transfer/complete")
    assert early.status_code == 409 and "not answered" in early.json()["detail"]
    assert (await other.post(f"/api/sim/phone/{OTHER}/answer")).status_code == 200
    await until(lambda: call.consultation is not None and call.consultation.answered, what="consult answered")
    # agent1003 talks to agent1099 but does not control the caller's call
    assert (await other.post(f"/api/calls/{call.call_id}/transfer/complete")).status_code == 403
    assert (await other.post(f"/api/calls/{call.call_id}/hangup")).status_code == 403
    # agent1099 neither hangs up nor holds while consulting: complete or cancel
    assert (await agent.post(f"/api/calls/{call.call_id}/hangup")).status_code == 409
    assert (await agent.post(f"/api/calls/{call.call_id}/hold")).status_code == 409
    assert (await agent.post(f"/api/calls/{call.call_id}/transfer/complete")).status_code == 200
    await until(lambda: call.agent == OTHER and call.status is CallStatus.TALKING and call.consultation is None,
                what="with agent1003")
    assert [(t["kind"], t["by_agent"]) for t in call.transfers] == [("attended", AGENT)]
    assert call.handled_by == {AGENT, OTHER}
    # agent1099 wraps up as after any call; the call is agent1003's now
    await until(lambda: state(center, AGENT) is AgentState.WRAP_UP, what="wrap-up")
    assert state(center, OTHER) is AgentState.ON_CALL
    assert (await agent.post(f"/api/calls/{call.call_id}/hangup")).status_code == 403
    assert (await other.post(f"/api/calls/{call.call_id}/hangup")).status_code == 200
    await until(lambda: state(center, OTHER) is AgentState.WRAP_UP, what="agent1003 wraps up")


async def test_cancel_gives_the_caller_back(center: CallCenter, agent: httpx.AsyncClient,
                                            other: httpx.AsyncClient) -> None:
    call = await talking(center, agent)
    nothing = await agent.post(f"/api/calls/{call.call_id}/transfer/cancel")
    assert nothing.status_code == 409 and "no consultation" in nothing.json()["detail"]
    await consulting(center, agent, call)
    assert (await other.post(f"/api/sim/phone/{OTHER}/answer")).status_code == 200
    await until(lambda: call.consultation is not None and call.consultation.answered, what="consult answered")
    assert (await agent.post(f"/api/calls/{call.call_id}/transfer/cancel")).status_code == 200
    await until(lambda: call.consultation is None and call.status is CallStatus.TALKING, what="back to the caller")
    assert call.agent == AGENT and call.transfers == []
    await until(lambda: state(center, OTHER) is AgentState.AVAILABLE, what="agent1003 free, no wrap-up")
    assert state(center, AGENT) is AgentState.ON_CALL
    assert center.desktop.book.agent_call(OTHER) is None


async def test_a_target_who_declines_or_does_not_answer(center: CallCenter, agent: httpx.AsyncClient,
                                                        other: httpx.AsyncClient) -> None:
    call = await talking(center, agent)
    await consulting(center, agent, call)
    assert (await other.post(f"/api/sim/phone/{OTHER}/hangup")).status_code == 200  # declines the ringing call
    await until(lambda: call.consultation is None and call.status is CallStatus.TALKING, what="back after decline")
    await until(lambda: state(center, OTHER) is AgentState.AVAILABLE, what="agent1003 free")
    # again, and this time nobody answers: after the ring time (15 s of PBX time) the caller is back
    await consulting(center, agent, call)
    await until(lambda: call.consultation is None and call.status is CallStatus.TALKING, within=20,
                what="back after no answer")
    assert call.agent == AGENT and call.transfers == []
    await until(lambda: state(center, OTHER) is AgentState.AVAILABLE, what="agent1003 free again")


async def test_only_the_agent_on_the_call_consults_and_bad_requests_say_why(
        center: CallCenter, agent: httpx.AsyncClient, other: httpx.AsyncClient) -> None:
    call = await talking(center, agent)
    url = f"/api/calls/{call.call_id}/transfer"
    assert (await other.post(url, json={"to": f"agent:{AGENT}", "kind": "attended"})).status_code == 403
    assert (await other.post(f"{url}/cancel")).status_code == 403
    checks = [({"to": "queue:sales", "kind": "attended"}, 422, "agent:<endpoint>"),
              ({"to": "number:12ab", "kind": "attended"}, 422, "2 to 20 digits"),
              ({"to": "agent:agent9999", "kind": "attended"}, 404, "no agent"),
              ({"to": f"agent:{AGENT}", "kind": "attended"}, 409, "already with this agent"),
              ({"to": "agent:agent1002", "kind": "sideways"}, 422, "")]
    for body, status, reason in checks:
        response = await agent.post(url, json=body)
        assert response.status_code == status, (body, response.text)
        assert reason in response.text
    assert (await other.post(f"/api/agents/{OTHER}/logout")).status_code == 200
    busy = await agent.post(url, json={"to": f"agent:{OTHER}", "kind": "attended"})
    assert busy.status_code == 409 and "logged_out" in busy.json()["detail"]
    assert call.consultation is None and call.status is CallStatus.TALKING  # nothing was started


def test_the_call_book_on_the_recorded_attended_transfer() -> None:
    """e-atxfer's domain events through the desktop's call book: who sees what, in order. agent1001 keeps the
    call while consulting (no `disconnected`), agent1003's screen rings and follows the consultation, the
    transfer moves the call to agent1003."""
    book = CallBook()
    shown = []
    for event in replay_events(TRACES / "app-queue" / "e-atxfer.jsonl"):
        for change in book.handle(event):
            if change.change is not Change.DIGIT:
                shown.append((change.change.value, change.agents, change.call.status.value, change.call.agent))
    assert shown == [
        ("started", (), "ivr", None), ("queued", (), "waiting", None),
        ("ringing", ("agent1001",), "ringing", "agent1001"), ("connected", ("agent1001",), "talking", "agent1001"),
        ("held", ("agent1001",), "held", "agent1001"), ("consulting", ("agent1001",), "consulting", "agent1001"),
        ("ringing", ("agent1003",), "consulting", "agent1001"),
        ("consult_answered", ("agent1001", "agent1003"), "consulting", "agent1001"),
        ("connected", ("agent1003",), "talking", "agent1003"), ("resumed", ("agent1003",), "talking", "agent1003"),
        ("transferred", ("agent1001", "agent1003"), "talking", "agent1003"),
        ("consult_ended", ("agent1001", "agent1003"), "talking", "agent1003"),
        ("disconnected", ("agent1003",), "no_agent", None), ("ended", (), "ended", None)]

"""/ws end to end: the real server on the simulated PBX, websocket clients with the session cookie.

A caller from a known customer's number rings the person's agent: that agent's socket gets the screen
pop (customer, VIP, open tickets), the supervisor's too, another agent's nothing; a reconnect catches up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from test_desktop_support import (
    AGENT,
    add_customer,
    base_url,
    desktop_settings,
    place_call,
    running_center,
    sign_in,
)

from callcenter.app import CallCenter
from callcenter.auth.service import Role, UserChanges
from callcenter.customers.schemas import CustomerIn
from cti.events import CallAbandoned, CallOffered, CallQueued, CallStarted, QueueSource
from cti.records import Direction

CUSTOMER_NUMBER = "+44 20 7946 0001"


@pytest.fixture
async def center(tmp_path: Path) -> AsyncIterator[CallCenter]:
    async with running_center(desktop_settings(tmp_path)) as center:
        await center.auth.create_user("other", "Other Agent", Role.AGENT, "other-agent-password",
                                      endpoint="agent1003")
        yield center


class Client:
    def __init__(self, socket: websockets.ClientConnection) -> None:
        self.socket = socket
        self.last_seq = 0

    async def next(self, within: float = 10.0) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(self.socket.recv(), within))
        if "seq" in message:
            self.last_seq = message["seq"]
        return message

    async def until(self, kind: str, within: float = 10.0, **match: Any) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            message = await self.next(max(deadline - loop.time(), 0.01))
            if message["type"] == kind and all(message.get(k) == v for k, v in match.items()):
                return message

    async def nothing_of(self, kind: str, within: float = 0.5) -> None:
        try:
            while True:
                message = await self.next(within)
                assert message["type"] != kind, message
        except TimeoutError:
            return


async def _connect(center: CallCenter, login: str | None, hello: dict[str, Any] | None = None) -> Client:
    headers = {}
    if login is not None:
        http = await sign_in(center, login)
        headers["Cookie"] = f"cc_session={http.cookies['cc_session']}"
        await http.aclose()
    url = base_url(center).replace("http", "ws") + "/ws"
    socket = await websockets.connect(url, additional_headers=headers)
    with contextlib.suppress(websockets.ConnectionClosed):  # a refused client is closed at once
        await socket.send(json.dumps(hello or {"type": "hello"}))
    return Client(socket)


async def test_the_ringing_agent_gets_the_screen_pop_and_nobody_else(center: CallCenter) -> None:
    customer_id = await add_customer(center, "0044-20-79460001")
    agent, other, staff = (await _connect(center, "agent"), await _connect(center, "other"),
                           await _connect(center, "supervisor"))
    snapshot = await agent.next()
    assert snapshot["type"] == "snapshot" and snapshot["simulated"] is True
    assert snapshot["agent"]["state"] == "logged_out" and snapshot["call"] is None
    assert snapshot["me"]["endpoint"] == AGENT
    assert (await staff.next())["type"] == "snapshot"
    assert (await other.next())["me"]["endpoint"] == "agent1003"
    http = await sign_in(center, "agent")
    assert (await http.post(f"/api/agents/{AGENT}/login")).status_code == 200
    state = await agent.until("agent_state")
    assert state["agent_id"] == AGENT and state["state"] == "available"
    place_call(center, CUSTOMER_NUMBER)
    seen: dict[str, dict[str, Any]] = {}
    while len(seen) < 2:  # the pop waits for the customer lookup if it has not answered yet: any order
        message = await agent.next()
        if message["type"] == "screen_pop" or (message["type"] == "call" and message["event"] == "ringing"):
            seen[message["type"]] = message
    pop, ringing = seen["screen_pop"], seen["call"]
    assert pop["agent"] == AGENT and pop["caller"] == CUSTOMER_NUMBER and pop["queue"] == "support"
    assert pop["customer"]["id"] == customer_id and pop["customer"]["name"] == "Grace Hopper"
    # the shipped main flow identified the caller by number and left CC_CUSTOMER, its path and decisions
    assert pop["vip"] is True and pop["identified_by"] == "ivr"
    assert [t["title"] for t in pop["open_tickets"]] == ["Invoice shows the wrong address"]
    assert pop["ivr"] == {"digits": "", "path": ["identify", "vip", "vip_priority", "hours", "menu", "support"],
                          "variables": {"customer": "C-1001", "priority": "10", "skills": "support:1"}}
    assert pop["waited"] >= 0
    assert ringing["call"]["call_id"] == pop["call_id"] and ringing["call"]["status"] == "ringing"
    staff_pop = await staff.until("screen_pop")
    assert staff_pop["call_id"] == pop["call_id"]
    await other.nothing_of("screen_pop")
    # the agent's own view over HTTP agrees; the other agent cannot act on the call
    other_http = await sign_in(center, "other")
    refused = await other_http.post(f"/api/calls/{pop['call_id']}/hangup")
    assert refused.status_code == 403
    await other_http.aclose()
    await http.aclose()
    for client in (agent, other, staff):
        await client.socket.close()


async def test_the_pop_shows_the_customer_the_ivr_identified_and_the_way_through_the_ivr(
        center: CallCenter) -> None:
    """The caller's number belongs to Grace, but the IVR identified Alan (the caller entered his customer
    number): the pop shows Alan, `identified_by: "ivr"`, with the IVR's path and decisions. A reference the
    IVR left that is not on file falls back to the number's customer."""
    await add_customer(center, CUSTOMER_NUMBER)  # Grace, C-1001
    alan = await center.customers.create(CustomerIn.model_validate({
        "reference": "C-2002", "name": "Alan Turing", "vip": False, "phones": [{"number": "+44 161 496 0000"}]}))
    agent = await _connect(center, "agent")
    assert (await agent.next())["type"] == "snapshot"
    now = time.time()
    for call_id, reference in (("ivr-1", "C-2002"), ("ivr-2", "C-404")):
        center.bus.publish(CallStarted(now, call_id, Direction.INBOUND, CUSTOMER_NUMBER, None, "8005550100",
                                       f"PJSIP/cc-trunk-{call_id}"))
        center.bus.publish(CallQueued(now, call_id, "support", QueueSource.CONTRACT, priority=5,
                                      skills="billing:1", customer=reference, ivr_path="identify,vip,menu,billing"))
        center.bus.publish(CallOffered(now, call_id, AGENT, f"leg-{call_id}", "support"))
        pop = await agent.until("screen_pop", call_id=call_id)
        if call_id == "ivr-1":
            assert (pop["identified_by"], pop["customer"]["id"], pop["customer"]["name"]) == ("ivr", alan.id,
                                                                                              "Alan Turing")
            assert pop["vip"] is False and pop["open_tickets"] == []
        else:
            assert (pop["identified_by"], pop["customer"]["name"], pop["vip"]) == ("phone", "Grace Hopper", True)
        assert pop["ivr"] == {"digits": "", "path": ["identify", "vip", "menu", "billing"],
                              "variables": {"customer": reference, "priority": "5", "skills": "billing:1"}}
        center.bus.publish(CallAbandoned(now, call_id, "support", 1.0))
    await agent.socket.close()


async def test_a_reconnecting_page_catches_up_on_what_it_missed(center: CallCenter) -> None:
    agent = await _connect(center, "agent")
    first = await agent.next()
    http = await sign_in(center, "agent")
    await http.post(f"/api/agents/{AGENT}/login")
    await agent.until("agent_state", state="available")
    seen, stream = agent.last_seq, first["stream"]
    await agent.socket.close()
    await http.post(f"/api/agents/{AGENT}/pause", json={"reason": "break"})
    await http.post(f"/api/agents/{AGENT}/ready")
    back = await _connect(center, "agent", {"type": "hello", "resume_from": seen, "stream": stream})
    resumed = await back.next()
    assert resumed == {"type": "resumed", "seq": seen, "stream": stream, "missed": 2}
    missed = [await back.next(), await back.next()]
    assert [(m["seq"], m["state"], m["reason"]) for m in missed] == [
        (seen + 1, "not_ready", "break"), (seen + 2, "available", None)]
    await http.aclose()
    await back.socket.close()


async def test_the_handshake_needs_a_session_and_a_hello(center: CallCenter) -> None:
    anonymous = await _connect(center, None)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await anonymous.next()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    rude = await _connect(center, "agent", {"type": "subscribe", "agent": "agent1003"})
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await rude.next()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
    # after hello, anything but ping closes the connection: a client cannot ask for more
    agent = await _connect(center, "agent")
    assert (await agent.next())["type"] == "snapshot"
    await agent.socket.send(json.dumps({"type": "ping"}))
    assert (await agent.next())["type"] == "pong"
    await agent.socket.send(json.dumps({"type": "hello", "agent": "agent1003"}))
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await agent.until("never")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
    # another site's page, with the agent's cookie: refused
    http = await sign_in(center, "agent")
    url = base_url(center).replace("http", "ws") + "/ws"
    foreign = await websockets.connect(url, origin=websockets.Origin("https://evil.example"),  # type: ignore[attr-defined]
                                       additional_headers={"Cookie": f"cc_session={http.cookies['cc_session']}"})
    with contextlib.suppress(websockets.ConnectionClosed):
        await foreign.send(json.dumps({"type": "hello"}))
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await foreign.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    await http.aclose()


async def _stays_open(client: Client, seconds: float) -> None:
    """Reads (heartbeats) for `seconds`; a close fails the test."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    with contextlib.suppress(TimeoutError):
        while (left := deadline - loop.time()) > 0:
            await client.next(left)


async def _closed(client: Client, within: float = 5.0) -> tuple[int, str]:
    """Reads until the server closes the socket (heartbeats come meanwhile): the close code and reason."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while loop.time() < deadline:
            await client.next(max(deadline - loop.time(), 0.01))
    frame = closed.value.rcvd
    assert frame is not None
    return frame.code, frame.reason


async def test_sessions_of_open_sockets_are_checked_together(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Every heartbeat the open sockets' sessions are checked in one go: a signed-out agent is closed
    with 4401, a supervisor made an agent with 4403, the others stay; while the database does not answer
    nobody is thrown out."""
    async with running_center(desktop_settings(tmp_path, heartbeat=0.3)) as center:
        agent, staff, admin = (await _connect(center, "agent"), await _connect(center, "supervisor"),
                               await _connect(center, "admin"))
        for client in (agent, staff, admin):
            assert (await client.next())["type"] == "snapshot"
        watch = center.desktop.sessions
        assert len(watch.connections) == 3

        async def database_away(session_ids: object) -> dict[int, object]:
            raise ConnectionError("database restarting")

        with monkeypatch.context() as patched:
            patched.setattr(center.auth, "check_sessions", database_away)
            checks = watch.checks
            await asyncio.sleep(1.0)  # three periods: no check went through, nobody was closed
            assert watch.checks == checks and len(watch.connections) == 3

        http = await sign_in(center, "agent")  # another session of the agent: signing it out ends only it
        assert (await http.post("/api/auth/logout")).status_code == 204
        await http.aclose()
        await _stays_open(agent, 0.8)  # the socket's own session is still valid
        supervisor = next(u for u in await center.auth.users() if u.login == "supervisor")
        await center.auth.update_user(supervisor.id, UserChanges(role=Role.AGENT, endpoint="agent1004"))
        assert await _closed(staff) == (4403, "your role or endpoint changed: reconnect")
        assert len(watch.connections) == 2
        # the agent signs out everywhere: their socket's session ends too
        http = await sign_in(center, "agent")
        assert (await http.post("/api/auth/logout-all")).status_code == 200
        await http.aclose()
        assert await _closed(agent) == (4401, "your session ended: signed out: sign in again")
        await _stays_open(admin, 0.8)
        assert len(watch.connections) == 1
        await admin.socket.close()

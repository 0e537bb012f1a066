"""The websocket hub on its own: audiences per message type, sequence numbers, catch-up, slow clients."""

from __future__ import annotations

import asyncio
import json

import pytest
from waiting import until

from callcenter.ws.hub import (
    AUDIENCES,
    CLOSE_TOO_SLOW,
    STAFF,
    Connection,
    Hello,
    Hub,
    Scope,
    agent_audience,
)


def _frames(connection: Connection) -> list[dict[str, object]]:
    out = []
    while not connection.queue.empty():
        text = connection.get_nowait()
        if text is not None:
            out.append(json.loads(text))
    return out


FRESH = Hello()


def _attach(hub: Hub, audience: str, hello: Hello = FRESH, maxsize: int = 100) -> Connection:
    connection = Connection(audience, maxsize, hub.urgency)
    hub.attach(connection, audience, hello, lambda: {"state": "fresh"})
    return connection


def test_each_message_goes_only_to_the_audiences_its_type_allows() -> None:
    hub = Hub()
    ada, bob, sue = (_attach(hub, agent_audience("agent1001")), _attach(hub, agent_audience("agent1002")),
                     _attach(hub, STAFF))
    for c in (ada, bob, sue):
        assert [f["type"] for f in _frames(c)] == ["snapshot"]
    hub.publish("screen_pop", {"call_id": "c1"}, ("agent1001",))
    hub.publish("agent_state", {"agent_id": "agent1002"}, ("agent1002",))
    hub.publish("queue_stats", {"queues": []}, ("agent1001",))  # agents named or not: staff only
    hub.publish("pbx", {"up": False})
    assert [(f["type"], f["seq"]) for f in _frames(ada)] == [("screen_pop", 1), ("pbx", 2)]
    assert [(f["type"], f["seq"]) for f in _frames(bob)] == [("agent_state", 1), ("pbx", 2)]
    assert [(f["type"], f["seq"]) for f in _frames(sue)] == [
        ("screen_pop", 1), ("agent_state", 2), ("queue_stats", 3), ("pbx", 4)]


def test_a_type_without_a_decided_audience_is_refused() -> None:
    with pytest.raises(KeyError):
        Hub().publish("customer_dump", {})
    assert set(AUDIENCES) == {"screen_pop", "call", "agent_state", "figures", "queue_stats", "pbx"}
    assert AUDIENCES["queue_stats"] is Scope.STAFF


def test_a_client_resumes_where_it_stopped_or_starts_from_a_snapshot() -> None:
    hub = Hub(replay=3)
    audience = agent_audience("agent1001")
    first = _attach(hub, audience)
    for n in range(5):
        hub.publish("call", {"n": n}, ("agent1001",))
    seen = _frames(first)
    assert [f.get("seq") for f in seen] == [0, 1, 2, 3, 4, 5]
    hub.detach(first, audience)
    hub.publish("call", {"n": 5}, ("agent1001",))  # missed while away
    # back, having seen 5: the missed one only
    again = _attach(hub, audience, Hello(5, hub.stream_id))
    assert [(f["type"], f["seq"]) for f in _frames(again)] == [("resumed", 5), ("call", 6)]
    # having seen 2: 3 is no longer kept (replay 3 keeps 4..6): a snapshot
    late = _attach(hub, audience, Hello(2, hub.stream_id))
    assert [(f["type"], f["seq"]) for f in _frames(late)] == [("snapshot", 6)]
    # another server's stream (a restart): a snapshot whatever the number
    other = _attach(hub, audience, Hello(6, "0123456789abcdef"))
    assert [f["type"] for f in _frames(other)] == ["snapshot"]
    # up to date: nothing missed
    current = _attach(hub, audience, Hello(6, hub.stream_id))
    assert [(f["type"], f["missed"]) for f in _frames(current)] == [("resumed", 0)]


def test_a_slow_client_is_dropped_and_nobody_else_waits() -> None:
    hub = Hub()
    slow = _attach(hub, STAFF, maxsize=5)
    fast = _attach(hub, STAFF, maxsize=100)
    _frames(fast)
    for n in range(10):
        hub.publish("pbx", {"n": n})
    assert slow.close_code == CLOSE_TOO_SLOW
    assert slow.get_nowait() is None  # the writer's signal to close; nothing else left queued
    assert len(_frames(fast)) == 10
    hub.detach(slow, STAFF)
    assert hub.stats.dropped_slow == 1 and hub.stats.connections == 1


def test_hello_must_be_well_formed() -> None:
    assert Hello.parse({"type": "hello"}) == Hello()
    assert Hello.parse({"type": "hello", "resume_from": 4, "stream": "ab"}) == Hello(4, "ab")
    for bad in ({"type": "ping"}, [], {"type": "hello", "resume_from": "4"}, {"type": "hello", "resume_from": True},
                {"type": "hello", "stream": 5}):
        with pytest.raises(ValueError):
            Hello.parse(bad)


async def test_a_screen_pop_goes_out_before_other_clients_frames_queued_before_it() -> None:
    """Three agents' state frames are queued, then a pop for a fourth agent who also had a frame queued:
    the pop's writer sends first among the others (their writers step aside once), after its own earlier
    frame (a connection's frames keep their order)."""
    hub = Hub()
    names = ("agent1001", "agent1002", "agent1003", "agent1004")
    connections = {name: _attach(hub, agent_audience(name)) for name in names}
    sent: list[tuple[str, str]] = []

    async def writer(name: str, connection: Connection) -> None:
        while (text := await connection.next()) is not None:
            sent.append((name, json.loads(text)["type"]))

    for connection in connections.values():
        _frames(connection)  # the snapshots
    tasks = [asyncio.create_task(writer(name, c)) for name, c in connections.items()]
    await asyncio.sleep(0)  # every writer waits for a frame
    for name in names:
        hub.publish("agent_state", {"agent_id": name}, (name,))
    hub.publish("screen_pop", {"call_id": "c1"}, ("agent1004",))
    await until(lambda: len(sent) == 5)
    assert sent[:2] == [("agent1004", "agent_state"), ("agent1004", "screen_pop")]
    assert sorted(sent[2:]) == [("agent1001", "agent_state"), ("agent1002", "agent_state"),
                                ("agent1003", "agent_state")]
    assert hub.urgency.pending == 0
    # a pop left unsent by a connection that goes away stops counting: nobody steps aside for it any more
    tasks[0].cancel()
    await asyncio.gather(tasks[0], return_exceptions=True)
    hub.publish("screen_pop", {"call_id": "c2"}, ("agent1001",))
    assert hub.urgency.pending == 1
    hub.detach(connections["agent1001"], agent_audience("agent1001"))
    assert hub.urgency.pending == 0
    for task in tasks[1:]:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

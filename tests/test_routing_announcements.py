"""Telling waiting callers their place in line and the expected wait (a queue's `announce`).

First what the routing service sets and where it sends the caller (no PBX), then the whole path on the
shipped dialplan through the simulated PBX: the caller hears the prompts of cc-wait,announce and goes back
to the music, still waiting, and is answered normally afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from routing_rig import RecordingAmi
from waiting import until

from callcenter.routing.config import AcdFile, build, load_acd_config
from callcenter.routing.service import RoutingService
from callcenter.settings import SettingsError
from callcenter.simulator.people import AgentBehaviour, CallerBehaviour, Span
from cti.events import CallConnected, CallQueued, CallStarted, QueueSource
from cti.records import Direction

ACD = AcdFile.model_validate({
    "queues": {"support": {"announce": {"every": 30}},
               "quiet": {}},
    "agents": {"agent1001": {"queues": ["support", "quiet"]}},
})


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _service() -> tuple[RoutingService, list[Mapping[str, str]], _Clock]:
    ami, clock = RecordingAmi(), _Clock()
    service = RoutingService(build(ACD, Path("acd.yaml")), ami, clock)
    service.restore([], clock.now)
    return service, ami.sent, clock


def _arrive(service: RoutingService, call_id: str, queue: str, at: float) -> None:
    service.handle(CallStarted(at, call_id, Direction.INBOUND, "5551001", None, "8005550100",
                               f"PJSIP/cc-trunk-{call_id}"))
    service.handle(CallQueued(at, call_id, queue, QueueSource.CONTRACT))


def _told(sent: list[Mapping[str, str]], call_id: str) -> dict[str, str]:
    channel = f"PJSIP/cc-trunk-{call_id}"
    said = {a["Variable"]: a["Value"] for a in sent if a["Action"] == "Setvar" and a["Channel"] == channel}
    moves = [(a["Context"], a["Exten"]) for a in sent if a["Action"] == "Redirect" and a["Channel"] == channel]
    return {**said, "moved": ",".join(f"{c}/{e}" for c, e in moves)}


async def test_callers_are_told_their_place_and_a_wait_of_two_minutes_or_more() -> None:
    service, sent, clock = _service()
    service.log_in("agent1001")
    _arrive(service, "first", "support", clock.now)  # offered to agent1001 at once, who answers
    service.handle(CallConnected(clock.now, "first", "agent1001", "1000.1", "support", 0.0))
    for call_id in ("c1", "c2"):
        _arrive(service, call_id, "support", clock.now)
    _arrive(service, "q1", "quiet", clock.now)
    await service.drain()
    sent.clear()

    clock.now += 29
    assert service.announce_due(clock.now) == 0  # not before `every` seconds of waiting
    clock.now += 1
    assert service.announce_due(clock.now) == 2  # c1 and c2; q1's queue announces nothing
    await service.drain()
    # one answer in the last minute: 1 a minute; c1 is next (1 minute: not said), c2 second (2 minutes)
    assert _told(sent, "c1") == {"CC_POSITION": "1", "CC_WAIT_MINUTES": "", "moved": "cc-wait/announce"}
    assert _told(sent, "c2") == {"CC_POSITION": "2", "CC_WAIT_MINUTES": "2", "moved": "cc-wait/announce"}
    assert _told(sent, "q1") == {"moved": ""}
    assert service.stats.announcements == 2

    clock.now += 29
    assert service.announce_due(clock.now) == 0  # each caller again `every` seconds after the last time
    clock.now += 1
    assert service.announce_due(clock.now) == 2


async def test_a_caller_offered_meanwhile_is_not_moved_back_to_the_announcement() -> None:
    """The announcement is decided while the caller waits, but carried out in the caller's turn: if an
    agent was offered the call in between, nothing is said and the connect Redirect stands."""
    service, sent, clock = _service()
    _arrive(service, "c1", "support", clock.now)
    clock.now += 30
    assert service.announce_due(clock.now) == 1  # started, not yet carried out
    service.log_in("agent1001")  # the offer is decided before the announcement runs
    await service.drain()
    assert [(a["Action"], a.get("Exten")) for a in sent] == [("Setvar", None), ("Redirect", "agent1001")]


def test_a_too_frequent_announcement_is_refused_with_its_place_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "acd.yaml"
    path.write_text("queues:\n  support:\n    announce: {every: 5}\n")
    with pytest.raises(SettingsError, match=r"queues\.support\.announce\.every"):
        load_acd_config(path)


async def test_a_waiting_caller_hears_its_place_on_the_shipped_dialplan_then_is_answered(
        make_rig: Callable[[AcdFile], Any]) -> None:
    acd = AcdFile.model_validate({
        "queues": {"support": {"announce": {"every": 15}, "ring_timeout": 10}},
        "agents": {"agent1001": {"queues": ["support"]}},
    })
    async with make_rig(acd) as rig:
        rig.people.add_agent("agent1001", "1001", "Agent One", AgentBehaviour(Span(1, 1), 0.0, Span(3, 3)))
        for _ in range(2):
            rig.people.call(CallerBehaviour("8005550100", 0, Span(600, 600), Span(3, 3)))
        await until(lambda: rig.routing.stats.announcements >= 2, within=15)
        await until(lambda: len([e for e in rig.ami_events if e.get("Application") == "Playback"
                                 and e.get("AppData") in ("queue-youarenext", "queue-callswaiting")]) == 2)
        heard = [(e["Channel"], e["Application"], e["AppData"]) for e in rig.ami_events
                 if e["Event"] == "Newexten" and e["Context"] == "cc-wait" and e["Exten"] == "announce"
                 and e["Application"] in ("Playback", "SayNumber")]
        first, second = sorted({channel for channel, _, _ in heard})
        assert [(app, data) for channel, app, data in heard if channel == first] == [("Playback", "queue-youarenext")]
        assert [(app, data) for channel, app, data in heard if channel == second] == [
            ("Playback", "queue-thereare"), ("SayNumber", "2"), ("Playback", "queue-callswaiting")]
        # back to the music in cc-wait without a second CCWaiting: both still wait in the router
        waiting = [e for e in rig.ami_events if e["Event"] == "UserEvent" and e.get("UserEvent") == "CCWaiting"]
        assert len(waiting) == 2
        await until(lambda: len([e for e in rig.ami_events if e["Event"] == "MusicOnHoldStart"]) >= 4)
        assert rig.routing.router.waiting_calls("support") != [] and not rig.ended
        rig.routing.log_in("agent1001")
        await until(lambda: len(rig.ended) == 2, within=20)
        assert [e.record.outcome.value for e in rig.ended] == ["answered", "answered"]
        assert all(e.record.agent == "agent1001" for e in rig.ended)
        await asyncio.sleep(0)

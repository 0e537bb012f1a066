"""The routing service's own timers: a caller left waiting overflows to another queue, or has its skill
requirement relaxed, when the queue's rules say so. The clock runs 1,000 times faster than real time, and
the service's `run()` loop is the thing that wakes up and applies the rule."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from routing_rig import RecordingAmi
from waiting import until

from acd.events import CallOffered
from callcenter.routing.config import AcdFile, build
from callcenter.routing.service import RoutingService
from cti.events import CallQueued, CallStarted, QueueSource
from cti.records import Direction

SPEED = 1000.0
ACD = AcdFile.model_validate({
    "queues": {
        "sales": {"skills": {"sales": 1}, "overflow_to": "support", "overflow_after": 120},
        "support": {"skills": {"support": 50}, "relaxation": [{"after": 60, "add_group": {"billing": 30}}]},
        "billing": {"skills": {"billing": 30}},
    },
    "agents": {"agent1001": {"skills": {"support": 60}, "queues": ["support"]},
               "agent1002": {"skills": {"billing": 40}, "queues": ["billing", "support"]}},
})


class _Rig:
    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        ami = RecordingAmi()
        self.sent = ami.sent
        self.offers: list[CallOffered] = []
        self.service = RoutingService(build(ACD, Path("acd.yaml")), ami,
                                      lambda: 1000.0 + (loop.time() - start) * SPEED, publish=self._publish,
                                      speed=SPEED)
        self.service.restore([], self.service.clock())

    def _publish(self, events: list[Any]) -> None:
        self.offers += [e for e in events if isinstance(e, CallOffered)]

    def call(self, call_id: str, queue: str) -> float:
        now = self.service.clock()
        self.service.handle(CallStarted(now, call_id, Direction.INBOUND, "5551001", None, "8005550100",
                                        f"PJSIP/cc-trunk-{call_id}"))
        self.service.handle(CallQueued(now, call_id, queue, QueueSource.CONTRACT))
        return now

    def redirects(self) -> list[tuple[str, str]]:
        return [(a["Channel"], a["Exten"]) for a in self.sent if a["Action"] == "Redirect"]


async def test_a_sales_caller_nobody_answers_overflows_to_support_after_two_minutes() -> None:
    rig = _Rig()
    rig.service.log_in("agent1001")  # support only: no sales agent at all
    queued_at = rig.call("c1", "sales")
    assert rig.offers == [] and rig.service.router.waiting_calls("sales") == ["c1"]
    timers = asyncio.create_task(rig.service.run())
    try:
        await until(lambda: rig.redirects() != [], within=10)
        offered = rig.offers[0]
        assert (offered.call_id, offered.agent_id, offered.queue) == ("c1", "agent1001", "support")
        waited = offered.at - queued_at
        assert 120 <= waited < 300, waited  # never before the queue's overflow_after (the upper bound is loop lag)
        view = rig.service.router.call("c1")
        assert view is not None and view.queue == "support"
        assert rig.redirects() == [("PJSIP/cc-trunk-c1", "agent1001")]
    finally:
        timers.cancel()
        await asyncio.gather(timers, return_exceptions=True)


async def test_a_support_caller_is_offered_to_a_billing_agent_once_the_requirement_is_relaxed() -> None:
    rig = _Rig()
    rig.service.log_in("agent1002")  # billing 40, no support skill: not good enough at first
    queued_at = rig.call("c2", "support")
    timers = asyncio.create_task(rig.service.run())
    try:
        await until(lambda: rig.offers != [], within=10)
        offered = rig.offers[0]
        assert (offered.call_id, offered.agent_id) == ("c2", "agent1002")
        assert 60 <= offered.at - queued_at < 300  # never before the relaxation's minute
        await until(lambda: rig.redirects() != [], within=5)
        assert rig.redirects() == [("PJSIP/cc-trunk-c2", "agent1002")]
    finally:
        timers.cancel()
        await asyncio.gather(timers, return_exceptions=True)

"""What the routing service hands the router: the IVR's priority, skills and customer on each caller,
checked without a PBX (the tracker's events in, the router's view out)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

from routing_rig import RecordingAmi

from acd.events import CallOffered
from acd.model import AgentState, SkillRequirement
from callcenter.routing.config import AcdFile, build
from callcenter.routing.service import RoutingService, parse_skills
from cti.events import CallEnded, CallQueued, CallStarted, QueueSource
from cti.records import CallOutcome, CallRecord, Direction, LiveCall

ACD = AcdFile.model_validate({
    "queues": {"support": {"skills": {"support": 1}}},
    "agents": {"agent1001": {"skills": {"support": 50}, "queues": ["support"], "login": "auto"},
               "agent1002": {"skills": {"support": 50, "french": 80}, "queues": ["support"]}},
})


def _service() -> tuple[RoutingService, list[Mapping[str, str]]]:
    ami = RecordingAmi()
    service = RoutingService(build(ACD, Path("acd.yaml")), ami, lambda: 1000.0)
    service.restore([], 1000.0)
    service.pause("agent1001", "break")  # nobody free: callers wait and their order shows
    return service, ami.sent


def _call(service: RoutingService, call_id: str, *, priority: int = 0, skills: str | None = None,
          customer: str | None = None) -> None:
    service.handle(CallStarted(1000.0, call_id, Direction.INBOUND, "5551001", None, "8005550100",
                               f"PJSIP/cc-trunk-{call_id}"))
    service.handle(CallQueued(1000.0, call_id, "support", QueueSource.CONTRACT, priority=priority, skills=skills,
                              customer=customer))


async def test_the_ivrs_priority_skills_and_customer_reach_the_router() -> None:
    service, _ = _service()
    _call(service, "c1")
    _call(service, "vip", priority=10, skills="support:1,french:60", customer="10001")
    view = service.router.call("vip")
    assert view is not None and view.priority == 10
    assert service.router.waiting_calls("support") == ["vip", "c1"]  # the VIP first, though it came later


async def test_broken_ivr_values_route_on_the_queue_alone() -> None:
    service, _ = _service()
    _call(service, "odd", skills="support:lots")
    view = service.router.call("odd")
    assert view is not None and view.queue == "support"


def test_parse_skills() -> None:
    assert parse_skills(None) == () and parse_skills("") == ()
    assert parse_skills("support:1, french:60") == (SkillRequirement("support", 1), SkillRequirement("french", 60))
    assert parse_skills("sales") == (SkillRequirement("sales", 1),)
    assert parse_skills("sales:high") is None and parse_skills("sales:500") is None and parse_skills(":3") is None


async def test_a_caller_needing_french_waits_for_the_french_speaking_agent() -> None:
    service, sent = _service()
    _call(service, "fr", skills="french:60")
    service.resume("agent1001")  # no French: the caller keeps waiting
    assert service.router.waiting_calls("support") == ["fr"]
    out = service.log_in("agent1002")
    assert [e.agent_id for e in out if isinstance(e, CallOffered)] == ["agent1002"]
    await asyncio.wait_for(service.drain(), 5)  # the offer goes out: Setvar, then the Redirect
    assert [a["Action"] for a in sent] == ["Setvar", "Redirect"]
    assert (sent[1]["Channel"], sent[1]["Exten"]) == ("PJSIP/cc-trunk-fr", "agent1002")


async def test_a_restarted_server_takes_waiting_callers_back_with_what_the_ivr_had_set() -> None:
    """The resync reads CC_PRIORITY / CC_SKILLS / CC_CUSTOMER from Status; restore hands them to the router,
    so a VIP stays ahead and a French-speaking caller still waits for French."""
    service = RoutingService(build(ACD, Path("acd.yaml")), RecordingAmi(), lambda: 1000.0)
    for call_id in ("plain", "vip"):
        service.handle(CallStarted(900.0, call_id, Direction.INBOUND, "5551001", None, "8005550100",
                                   f"PJSIP/cc-trunk-{call_id}"))
    live = [LiveCall("plain", Direction.INBOUND, "5551001", "8005550100", "support", "waiting", (), 900.0, False),
            LiveCall("vip", Direction.INBOUND, "5551001", "8005550100", "support", "waiting", (), 950.0, False,
                     priority=10, skills="french:60", customer="10001")]
    service.restore(live, 1000.0)  # agent1001 logs in by itself (login: auto), and has no French
    view = service.router.call("vip")
    assert view is not None and view.priority == 10
    assert service.router.waiting_calls("support") == ["vip"]  # "plain" went to agent1001; the VIP waits
    offered = service.log_in("agent1002")
    assert [(e.call_id, e.agent_id) for e in offered if isinstance(e, CallOffered)] == [("vip", "agent1002")]


async def test_an_agent_who_dials_out_is_offered_nobody_until_the_call_ends() -> None:
    service, _ = _service()
    service.resume("agent1001")  # free
    service.handle(CallStarted(1000.0, "out1", Direction.OUTBOUND, "1001", None, "5550199",
                               "PJSIP/agent1001-0000000a"))
    assert service.router.agent_state("agent1001") is AgentState.ON_CALL
    _call(service, "c1")
    assert service.router.waiting_calls("support") == ["c1"]  # not offered to the agent on the phone
    service.handle(CallEnded(1010.0, "out1", CallRecord("out1", Direction.OUTBOUND, "1001", "5550199", None,
                                                        "agent1001", (), CallOutcome.ANSWERED, 1000.0, 1001.0,
                                                        1010.0, 1.0, 9.0, 0.0)))
    view = service.router.call("c1")
    assert view is not None and view.agent_id == "agent1001"  # free again: the waiting caller is offered

"""Callbacks end to end: a waiting caller asks to be called back, leaves the line (cc-exit,callback) and
keeps its place; when an agent is free the agent is reserved, its phone rings first (Originate into
cc-outbound), then the customer's number is dialled over the trunk. Through the simulated PBX over AMI,
on the shipped dialplan, with the tracker and the ACD as in production."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from waiting import until as _until

from acd.events import AcdEvent, CallAnswered, CallbackDialled, CallbackFailed, CallbackRequested
from acd.model import AgentState
from callcenter.asterisk.render import load_dialplan
from callcenter.routing.config import AcdFile, build
from callcenter.routing.service import RoutingService
from callcenter.settings import Settings
from callcenter.simulator.ami_server import AmiServer
from callcenter.simulator.clock import LoopClock
from callcenter.simulator.pbx import Pbx
from callcenter.simulator.people import AgentBehaviour, CallerBehaviour, CustomerBehaviour, People, Span
from cti.connection import AmiConnection
from cti.events import CallEnded, DomainEvent
from cti.pipeline import CtiPipeline
from cti.tracker import Tracker

SPEED = 20.0
SHIPPED = Path("config/asterisk/extensions.conf")
ACD = AcdFile.model_validate({
    "queues": {"support": {"callback": {"dial_timeout": 20, "retry_after": 30, "max_attempts": 2}}},
    "agents": {"agent1001": {"queues": ["support"], "login": "auto"}},
})


@dataclass
class Rig:
    pbx: Pbx
    people: People
    routing: RoutingService
    ami: list[dict[str, Any]] = field(default_factory=list)
    ended: list[CallEnded] = field(default_factory=list)
    acd: list[AcdEvent] = field(default_factory=list)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.acd if isinstance(e, kind)]


@asynccontextmanager
async def rig() -> AsyncIterator[Rig]:
    settings = Settings.model_validate({"asterisk": {"fastagi_port": 1, "record_calls": False}})  # no IVR here
    pbx = Pbx(load_dialplan(settings, SHIPPED), LoopClock(SPEED))
    people = People(pbx, random.Random(6))
    people.add_trunk(behaviour=CustomerBehaviour(answer_after=Span(2, 2), talk=Span(600, 600)))
    people.add_agent("agent1001", "1001", "Agent One", AgentBehaviour(Span(1, 1), 0.0, Span(10, 10)))
    server = AmiServer(pbx, port=0, username="cc", secret="ccsecret")
    await server.start()
    the_rig = Rig(pbx, people, None)  # type: ignore[arg-type]
    pbx.listeners.append(the_rig.ami.append)

    def publish(events: list[DomainEvent]) -> None:
        the_rig.ended.extend(e for e in events if isinstance(e, CallEnded))
        for event in events:
            the_rig.routing.handle(event)

    pipeline = CtiPipeline(Tracker(), publish, clock=pbx.clock.now)
    connection = AmiConnection("127.0.0.1", server.port, "cc", "ccsecret", on_event=pipeline.on_event,
                               on_ready=pipeline.on_ready, on_down=pipeline.on_down)
    the_rig.routing = RoutingService(build(ACD, Path("acd.yaml")), connection.send, pbx.clock.now,
                                     the_rig.acd.extend, speed=SPEED)
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(connection.run()), loop.create_task(the_rig.routing.run())]
    try:
        await _until(lambda: pipeline.stats.resyncs > 0)
        the_rig.routing.restore([], pbx.clock.now())
        the_rig.routing.pause("agent1001", "break")  # nobody free: the caller waits
        yield the_rig
    finally:
        await connection.close()
        tasks[1].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.stop()


async def _waiting_caller(r: Rig, number: str) -> str:
    caller = r.people.call(CallerBehaviour("8005550100", 0, Span(600, 600), Span(600, 600), numbers=(number,)))
    await _until(lambda: len(r.routing.router.waiting_calls("support")) == 1)
    return caller.linkedid


async def test_a_callback_rings_the_agent_then_the_customer() -> None:
    async with rig() as r:
        call_id = await _waiting_caller(r, "5557777")
        out = r.routing.request_callback(call_id)
        assert [type(e).__name__ for e in out] == ["CallbackRequested"]
        # the caller hears it will be called back and leaves the line; its place stays
        await _until(lambda: any(e.record.call_id == call_id for e in r.ended))
        exits = [e for e in r.ami if e["Event"] == "Newexten" and e["Context"] == "cc-exit"]
        assert exits and exits[0]["Exten"] == "callback"
        assert r.routing.router.waiting_calls("support") == [call_id]
        r.routing.resume("agent1001")  # the agent is free: reserved for the callback, its phone rings first
        await _until(lambda: bool(r.of(CallAnswered)))
        [dialled] = r.of(CallbackDialled)
        assert (dialled.call_id, dialled.agent_id, dialled.number, dialled.attempt) == (
            call_id, "agent1001", "5557777", 1)
        [answered] = r.of(CallAnswered)
        assert answered.callback and answered.call_id == call_id
        assert r.routing.agent_states()["agent1001"] == AgentState.ON_CALL
        # the agent hangs up after 10 s: the callback is over
        await _until(lambda: r.routing.agent_states()["agent1001"] != AgentState.ON_CALL)
        [callback_call] = [e for e in r.ended if e.record.call_id == f"cb-{call_id}-1"]
        assert (callback_call.record.direction.value, callback_call.record.outcome.value,
                callback_call.record.dnis) == ("outbound", "answered", "5557777")
        assert r.of(CallbackRequested) and r.routing.router.call(call_id) is None


async def test_a_busy_number_is_tried_again_then_given_up() -> None:
    async with rig() as r:
        call_id = await _waiting_caller(r, "5550000")  # busy (the simulated customers' rule)
        r.routing.request_callback(call_id)
        r.routing.resume("agent1001")
        await _until(lambda: len(r.of(CallbackFailed)) == 2, within=15)
        first, last = r.of(CallbackFailed)
        assert first.retry_at is not None and last.retry_at is None  # max_attempts 2: routing ends here
        assert [d.attempt for d in r.of(CallbackDialled)] == [1, 2]
        assert not r.of(CallAnswered)
        assert r.routing.router.call(call_id) is None

"""Callers the ACD sends away (max wait, closed, full, no agents): on the shipped dialplan's cc-exit,
through the simulated PBX over AMI. The message plays the queue's prompt; a voicemail is recorded."""

from __future__ import annotations

import asyncio
import random
import wave
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from waiting import until as _until

from acd.events import AcdEvent, CallExited
from callcenter.asterisk.render import load_dialplan
from callcenter.routing.config import AcdFile, build
from callcenter.routing.service import RoutingService
from callcenter.settings import Settings
from callcenter.simulator.ami_server import AmiServer
from callcenter.simulator.clock import LoopClock
from callcenter.simulator.pbx import Pbx
from callcenter.simulator.people import CallerBehaviour, People, Span
from callcenter.simulator.recording import Recorder
from cti.connection import AmiConnection
from cti.events import CallEnded, DomainEvent
from cti.pipeline import CtiPipeline
from cti.tracker import Tracker

SPEED = 20.0
SHIPPED = Path("config/asterisk/extensions.conf")



@dataclass
class Rig:
    pbx: Pbx
    people: People
    routing: RoutingService
    ami_events: list[dict[str, Any]] = field(default_factory=list)
    ended: list[CallEnded] = field(default_factory=list)
    acd_events: list[AcdEvent] = field(default_factory=list)


def _acd(exit_action: str) -> AcdFile:
    # nobody logged in, callers may wait anyway; 5 s at most, then the exit action
    return AcdFile.model_validate({
        "queues": {"support": {"max_wait": 5, "exit_action": exit_action, "exit_prompt": "ss-noservice"}},
        "agents": {"agent1001": {"queues": ["support"]}},
    })


@pytest.fixture
def make_rig(tmp_path: Path) -> Callable[[str], Any]:
    @asynccontextmanager
    async def build_rig(exit_action: str) -> AsyncIterator[Rig]:
        # the IVR is not running here: AGI fails, the caller waits in the default queue (support)
        settings = Settings.model_validate({"asterisk": {"fastagi_port": 1}})
        pbx = Pbx(load_dialplan(settings, SHIPPED), LoopClock(SPEED))
        pbx.recorder = Recorder(tmp_path)
        people = People(pbx, random.Random(4))
        server = AmiServer(pbx, port=0, username="cc", secret="ccsecret")
        await server.start()
        rig = Rig(pbx, people, None)  # type: ignore[arg-type]
        pbx.listeners.append(rig.ami_events.append)

        def publish(events: list[DomainEvent]) -> None:
            rig.ended.extend(e for e in events if isinstance(e, CallEnded))
            for event in events:
                rig.routing.handle(event)

        pipeline = CtiPipeline(Tracker(), publish, clock=pbx.clock.now)
        connection = AmiConnection("127.0.0.1", server.port, "cc", "ccsecret", on_event=pipeline.on_event,
                                   on_ready=pipeline.on_ready, on_down=pipeline.on_down)
        rig.routing = RoutingService(build(_acd(exit_action), Path("acd.yaml")), connection.send, pbx.clock.now,
                                     rig.acd_events.extend, speed=SPEED)
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(connection.run()), loop.create_task(rig.routing.run())]
        try:
            await _until(lambda: pipeline.stats.resyncs > 0)
            rig.routing.restore([], pbx.clock.now())
            yield rig
        finally:
            await connection.close()
            tasks[1].cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await server.stop()

    return build_rig


async def test_max_wait_with_a_message_plays_the_queues_prompt_and_hangs_up(make_rig: Callable[[str], Any]) -> None:
    async with make_rig("message") as rig:
        rig.people.call(CallerBehaviour("8005550100", 0, Span(600, 600), Span(60, 60)))
        await _until(lambda: bool(rig.ended))
        [exited] = [e for e in rig.acd_events if isinstance(e, CallExited)]
        assert (exited.reason.value, exited.action.value) == ("max_wait", "message")
        played = [e for e in rig.ami_events if e["Event"] == "Newexten" and e["Context"] == "cc-exit"]
        assert [(e["Exten"], e["Application"], e["AppData"]) for e in played] == [
            ("message", "Set", "CC_STATE=exit"), ("message", "Playback", "ss-noservice"), ("message", "Hangup", "")]
        [ended] = rig.ended
        assert ended.record.outcome.value == "abandoned" and 4.5 < ended.record.wait_seconds < 8


async def test_max_wait_with_voicemail_records_the_caller(make_rig: Callable[[str], Any], tmp_path: Path) -> None:
    async with make_rig("voicemail") as rig:
        caller = rig.people.call(CallerBehaviour("8005550100", 0, Span(600, 600), Span(60, 60)))
        await _until(lambda: any(e.get("Application") == "Record" for e in rig.ami_events))
        rig.pbx.clock.call_later(4, lambda: rig.pbx.remote_hangup(caller))  # speaks 4 s, then hangs up
        await _until(lambda: bool(rig.ended))
        voicemail = tmp_path / f"voicemail-{caller.linkedid}.wav"
        await _until(lambda: voicemail.exists())
        with wave.open(str(voicemail)) as wav:
            assert 3.5 < wav.getnframes() / 8000 < 6  # the 4 s the caller spoke (delivery adds a little)

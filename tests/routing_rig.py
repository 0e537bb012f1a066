"""The center on the shipped dialplan: the simulated PBX over AMI, the tracker, the routing service with the
ACD file a test gives (`make_rig(acd)`). Recordings go to the test's tmp_path; the IVR is not running, so
callers wait in the default queue."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from waiting import until as _until

from acd.events import AcdEvent
from callcenter.asterisk.render import load_dialplan
from callcenter.routing.config import AcdFile, build
from callcenter.routing.service import RoutingService
from callcenter.settings import Settings
from callcenter.simulator.ami_server import AmiServer
from callcenter.simulator.clock import LoopClock
from callcenter.simulator.pbx import Pbx
from callcenter.simulator.people import People
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

    def of(self, kind: type) -> list[Any]:
        """The ACD's events of one kind, in order."""
        return [e for e in self.acd_events if isinstance(e, kind)]


@pytest.fixture
def make_rig(tmp_path: Path) -> Callable[[AcdFile], Any]:
    @asynccontextmanager
    async def build_rig(acd: AcdFile) -> AsyncIterator[Rig]:
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
        rig.routing = RoutingService(build(acd, Path("acd.yaml")), connection.send, pbx.clock.now,
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


class RecordingAmi:
    """Stands in for the AMI connection's `send` where no PBX runs: keeps every action, answers Success."""

    def __init__(self) -> None:
        self.sent: list[Mapping[str, str]] = []

    async def __call__(self, action: Mapping[str, str]) -> Mapping[str, Any]:
        self.sent.append(action)
        return {"Response": "Success"}

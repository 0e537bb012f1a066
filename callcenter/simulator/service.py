"""The simulated PBX as a running service: dialplan, PBX, people and the AMI server, on the event loop.

`Simulator.start()` listens on loopback; the call center then connects to it over AMI exactly as to a
real Asterisk. Faults from the scenario run on the PBX's clock.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path

from callcenter.asterisk.dialplan import Dialplan
from callcenter.simulator.agi import FastAgiConnector
from callcenter.simulator.ami_server import AmiServer
from callcenter.simulator.clock import LoopClock, Timer
from callcenter.simulator.pbx import Pbx
from callcenter.simulator.people import AgentDesk, People
from callcenter.simulator.recording import Recorder
from callcenter.simulator.scenario import FaultModel, Scenario

log = logging.getLogger(__name__)

BANNER = "SIMULATED PBX: no real Asterisk, no real calls; callers and agents are bots"


class Simulator:
    def __init__(self, scenario: Scenario, dialplan: Dialplan, *, username: str, secret: str, port: int = 0,
                 speed: float = 1.0, recordings: Path | None = None) -> None:
        self.scenario = scenario
        self.dialplan = dialplan
        self.username, self.secret, self.requested_port, self.speed = username, secret, port, speed
        self.pbx: Pbx | None = None
        self.people: People | None = None
        self.desk: AgentDesk | None = None  # the bots' agent page (the ACD), set by the composition root
        self.ami: AmiServer | None = None
        self._fault_timers: list[Timer] = []
        self.recordings = recordings
        self._writes: set[asyncio.Future[None]] = set()  # WAV files being written in a worker thread

    def now(self) -> float:
        """The PBX's time (epoch seconds, running `speed` times faster than real time once started)."""
        return self.pbx.clock.now() if self.pbx is not None else time.time()

    @property
    def port(self) -> int:
        assert self.ami is not None, "start() first"
        return self.ami.port

    async def start(self) -> None:
        clock = LoopClock(self.speed)
        pbx = self.pbx = Pbx(self.dialplan, clock)
        pbx.agi_connector = FastAgiConnector()  # AGI() reaches our IVR server, as Asterisk's would
        pbx.recorder = Recorder(self.recordings, self._write_off_loop)
        people = self.people = People(pbx, random.Random(self.scenario.seed),
                                      trunk_context=self.scenario.trunk_context)
        people.desk = self.desk
        people.add_trunk(behaviour=self.scenario.customer_behaviour())
        agents = self.scenario.agents
        behaviour = self.scenario.bot_behaviour()
        for n in range(agents.bots.count):
            number = str(agents.bots.first_number + n)
            people.add_agent(f"agent{number}", number, f"Bot Agent {number}", behaviour, context=agents.context)
        for name in agents.people:
            digits = "".join(c for c in name if c.isdigit()) or name
            people.add_agent(name, digits, name, None, context=agents.context)
        self.ami = AmiServer(pbx, port=self.requested_port, username=self.username, secret=self.secret)
        await self.ami.start()
        for fault in self.scenario.faults:
            self._schedule(fault, fault.at)
        people.start_traffic(self.scenario.caller_behaviours())
        log.warning("%s: %d bot agents, %d service numbers, time x%g, AMI on 127.0.0.1:%d", BANNER,
                    agents.bots.count, len(self.scenario.traffic), self.speed, self.ami.port)

    def _write_off_loop(self, work: Callable[[], None]) -> None:
        future = asyncio.get_running_loop().run_in_executor(None, work)
        self._writes.add(future)
        future.add_done_callback(self._written)

    def _written(self, future: asyncio.Future[None]) -> None:
        self._writes.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.error("simulated PBX: a recording could not be written", exc_info=future.exception())

    async def stop(self) -> None:
        for timer in self._fault_timers:
            timer.cancel()
        if self._writes:
            await asyncio.wait(list(self._writes), timeout=10)
        if self.people is not None:
            self.people.stop_traffic()
        if self.ami is not None:
            await self.ami.stop()

    def _schedule(self, fault: FaultModel, delay: float) -> None:
        assert self.pbx is not None

        def run() -> None:
            self.inject(fault)
            if fault.every is not None:
                self._schedule(fault, fault.every)

        self._fault_timers.append(self.pbx.clock.call_later(delay, run))

    def inject(self, fault: FaultModel) -> None:
        """One fault now; silent and slow end by themselves after `duration`."""
        ami, pbx = self.ami, self.pbx
        assert ami is not None and pbx is not None
        log.warning("simulated PBX: fault %s (for %gs)", fault.fault, fault.duration)
        if fault.fault == "drop":
            ami.drop()
        elif fault.fault == "silent":
            ami.go_silent()
            self._fault_timers.append(pbx.clock.call_later(fault.duration, ami.wake_up))
        elif fault.fault == "restart":
            ami.restart()
        elif fault.fault == "garbage":
            ami.send_garbage()
        elif fault.fault == "slow":
            ami.read_slowly(0.5)
            self._fault_timers.append(pbx.clock.call_later(fault.duration, lambda: ami.read_slowly(None)))

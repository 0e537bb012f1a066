"""The composition root: builds every object of the running call center by hand and runs them.

One asyncio process holds the live state (tracker, bus); the database holds history. Every long-running
piece is a task of one TaskGroup, so a crash of any of them is seen, logged and ends the process
instead of leaving a half-working server behind.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import uvicorn
from argon2 import PasswordHasher

from acd.events import AcdEvent, AgentStateChanged
from callcenter.api import create_app
from callcenter.asterisk.conf import ConfError
from callcenter.asterisk.render import RenderError, load_dialplan
from callcenter.auth.service import AuthService, Clock, utc_now
from callcenter.bus import EventBus
from callcenter.customers.service import CustomerService
from callcenter.db.cdr import calls_between
from callcenter.db.engine import create_sessionmaker
from callcenter.desktop.wiring import Desktop
from callcenter.ivr.wiring import build_ivr
from callcenter.migrations import migrate
from callcenter.recorders import CdrWriter, QueueLogWriter
from callcenter.routing.config import load_acd_config
from callcenter.routing.history import AgentStateWriter
from callcenter.routing.service import RoutingService
from callcenter.settings import Settings, SettingsError
from callcenter.simulator.scenario import load_scenario
from callcenter.simulator.service import Simulator
from cti.connection import AmiConnection
from cti.events import CallEnded, DomainEvent
from cti.pipeline import CtiPipeline
from cti.protocol import event_filter
from cti.tracker import Tracker

log = logging.getLogger(__name__)

# The history writers must not lose a call: their queues are deep, their drops are the alarm.
HISTORY_QUEUE = 100_000
HISTORY_BATCH = 500  # events a history writer stores in one transaction at most


def uvicorn_config(app: Any, host: str, port: int) -> uvicorn.Config:
    """uvicorn as the call center runs it. The websocket frames go out uncompressed (no permessage-deflate):
    they are small JSON messages, and compressing them was the largest single cost of a send in
    bench/screen_pop.py (6 to 12 % of the event loop's time at 5,000 frames/s, py-spy), plus about
    45 KiB of zlib state per agent page."""
    return uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                          ws_per_message_deflate=False)


class CallCenter:
    def __init__(self, settings: Settings, *, clock: Clock = utc_now,
                 password_hasher: PasswordHasher | None = None) -> None:
        """`clock` is the wall clock of sign-in and customer data (tests step it; the tracker runs on
        the event times it is fed); `password_hasher` defaults to argon2id with RFC 9106 parameters."""
        self.settings = settings
        self.bus: EventBus[DomainEvent] = EventBus()
        self.acd_bus: EventBus[AcdEvent] = EventBus()
        ami = settings.ami
        secret = ami.secret.get_secret_value()
        self.simulator: Simulator | None = None
        if settings.pbx.mode == "simulated":
            # the built-in PBX listens on loopback; we reach it over AMI exactly as a real Asterisk
            secret = secret or secrets.token_urlsafe(18)
            sim = settings.simulator
            try:
                dialplan = load_dialplan(settings, sim.dialplan)
            except (RenderError, ConfError) as exc:
                raise SettingsError(f"simulator.dialplan: {exc}") from None
            self.simulator = Simulator(load_scenario(sim.scenario), dialplan, username=ami.username,
                                       secret=secret, port=sim.ami_port, speed=sim.speed,
                                       recordings=sim.recordings_dir)
        # the tracker's and the router's clock: the PBX's own time when it is simulated (and maybe sped up)
        self.now: Callable[[], float] = self.simulator.now if self.simulator is not None else time.time
        self.tracker = Tracker(settings.tracker_config())
        self.pipeline = CtiPipeline(self.tracker, self._publish, clock=self.now)
        self.connection = AmiConnection(
            "127.0.0.1" if self.simulator is not None else ami.host, ami.port, ami.username, secret,
            on_event=self.pipeline.on_event, on_ready=self._on_ready, on_down=self.pipeline.on_down,
            keepalive_interval=ami.keepalive_interval, keepalive_timeout=ami.keepalive_timeout,
            backoff_initial=ami.backoff_initial, backoff_max=ami.backoff_max,
            connect_timeout=ami.connect_timeout,
            # parse only what the tracker reads (tests/test_event_filter.py proves it changes nothing)
            event_filter=event_filter(self.tracker.handled_events, self.tracker.tracked_variables),
        )
        self.engine, self.sessions = create_sessionmaker(settings.database.url)
        self.cdr = CdrWriter(self.sessions)
        self.queue_log = QueueLogWriter(self.sessions, Path(settings.records.queue_log_path))
        self.auth = AuthService(self.sessions, settings.auth, clock=clock, hasher=password_hasher)
        self.customers = CustomerService(self.sessions, clock=clock)
        self.routing = RoutingService(load_acd_config(settings.acd.config), self.connection.send, self.now,
                                      self.acd_bus.publish_all,
                                      speed=self.simulator.speed if self.simulator is not None else 1.0)
        if self.simulator is not None:
            self.simulator.desk = self.routing  # the bot agents take their breaks through the ACD
        # the agent desktop: screen pops and live views over /ws, call control, after-call work. It subscribes
        # first: on each bus its task is woken first, so a screen pop waits for no history writer.
        self.desktop = Desktop(settings.desktop, self.bus, self.acd_bus, self.routing, self.customers, self.auth,
                               self.connection.send, self.now, self.simulator)
        self.agent_states = AgentStateWriter(self.sessions)
        self.acd_bus.subscribe_batches("agent_states", self.agent_states, accepts=(AgentStateChanged,),
                                       maxsize=HISTORY_QUEUE, max_batch=HISTORY_BATCH)
        self.ivr = build_ivr(settings, self.sessions, self.customers, self.routing)  # FastAGI: flows by DNIS
        self.bus.subscribe_batches("cdr", self.cdr, accepts=(CallEnded,), maxsize=HISTORY_QUEUE,
                                   max_batch=HISTORY_BATCH)
        self.bus.subscribe_batches("queue_log", self.queue_log, maxsize=HISTORY_QUEUE, max_batch=HISTORY_BATCH)
        self._server: uvicorn.Server | None = None
        self._stop_requested = False

    def _publish(self, events: list[DomainEvent]) -> None:
        """The tracker's events: to the router first, in line (it decides in microseconds and must see
        every event in order), then to the bus for everyone else."""
        for event in events:
            self.routing.handle(event)
        self.bus.publish_all(events)

    async def _on_ready(self, connection: AmiConnection) -> None:
        await self.pipeline.on_ready(connection)
        if self.pipeline.stats.resyncs:
            # after the first resync: callers already waiting keep their place, busy agents stay busy
            self.routing.restore(self.tracker.live_calls(), self.now())

    def stop(self) -> None:
        """Ask a running server to stop as SIGINT would (history is still written before exit)."""
        self._stop_requested = True
        if self._server is not None:
            self._server.should_exit = True

    async def call_history(self, start: datetime, end: datetime, *, agent: str | None,
                           queue: str | None) -> list[Any]:
        return list(await calls_between(self.sessions, start, end, agent=agent, queue=queue))

    async def run(self) -> None:
        """Serve until SIGINT / SIGTERM, then stop in order: AMI first, history written, then exit."""
        await migrate(self.settings.database.url)
        http = self.settings.http
        server = self._server = uvicorn.Server(uvicorn_config(create_app(self), http.host, http.port))
        server.should_exit = self._stop_requested
        if self.simulator is not None:
            await self.simulator.start()
            self.connection.port = self.simulator.port
        log.info("call center: HTTP on http://%s:%d, AMI %s:%d%s", http.host, http.port, self.connection.host,
                 self.connection.port, " (SIMULATED PBX)" if self.simulator is not None else "")
        try:
            async with asyncio.TaskGroup() as group:
                bus_task = group.create_task(self.bus.run(), name="bus")
                acd_bus_task = group.create_task(self.acd_bus.run(), name="acd-bus")
                ami_task = group.create_task(self.connection.run(), name="ami")
                routing_task = group.create_task(self.routing.run(), name="acd-timers")
                ivr_task = group.create_task(self.ivr.run(), name="ivr") if self.ivr is not None else None
                desktop_task = group.create_task(self.desktop.run(), name="desktop")
                await server.serve()  # returns on SIGINT / SIGTERM (uvicorn handles the signals)
                await self.connection.close()
                routing_task.cancel()
                desktop_task.cancel()
                if ivr_task is not None:
                    ivr_task.cancel()
                await asyncio.wait_for(self.bus.drain(), 30)
                await asyncio.wait_for(self.acd_bus.drain(), 30)
                ami_task.cancel()
                bus_task.cancel()
                acd_bus_task.cancel()
        finally:
            if self.simulator is not None:
                await self.simulator.stop()
            await self.engine.dispose()

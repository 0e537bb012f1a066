"""The agent desktop's objects, built by hand for the composition root: the call book, the websocket hub
and its feed (a subscriber of the tracker's and the ACD's buses), call control, after-call work, the
simulated phone, and their routes (HTTP, `/ws`, the pages)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter

from acd.events import AcdEvent, AgentLogoutDeferred, AgentPauseDeferred, AgentStateChanged, WrapUpExtended
from callcenter.auth.http import Guard
from callcenter.auth.service import AuthService
from callcenter.bus import EventBus
from callcenter.customers.service import CustomerService
from callcenter.desktop.aftercall import AfterCall
from callcenter.desktop.calls import CallBook
from callcenter.desktop.control import CallControl
from callcenter.desktop.http import desktop_routes
from callcenter.desktop.simphone import SimulatedPhones
from callcenter.routing.service import RoutingService
from callcenter.settings import DesktopSettings
from callcenter.simulator.service import Simulator
from callcenter.web.pages import page_routes
from callcenter.ws.endpoint import SessionWatch, websocket_routes
from callcenter.ws.feed import DesktopFeed
from callcenter.ws.hub import Hub
from cti.events import DomainEvent

# The desktop must see every call event in order (its call book is the page's truth): a deep queue,
# whose drops are an alarm, as for the history writers.
FEED_QUEUE = 100_000


class Desktop:
    def __init__(self, settings: DesktopSettings, bus: EventBus[DomainEvent], acd_bus: EventBus[AcdEvent],
                 routing: RoutingService, customers: CustomerService, auth: AuthService,
                 send: Callable[[Mapping[str, str]], Awaitable[Mapping[str, Any]]], clock: Callable[[], float],
                 simulator: Simulator | None) -> None:
        self.settings = settings
        self.clock = clock
        self.book = CallBook()
        self.hub = Hub(replay=settings.replay_frames, send_queue=settings.send_queue)
        self.sessions = SessionWatch(auth, settings.heartbeat_seconds)  # the open websockets' sign-ins
        self.feed = DesktopFeed(self.book, self.hub, customers, routing, clock, simulated=simulator is not None,
                                speed=simulator.speed if simulator is not None else 1.0,
                                dispositions=list(settings.dispositions))
        self.phones = SimulatedPhones(simulator) if simulator is not None else None
        self.control = CallControl(self.book, send, routing, self.phones)
        self.after_call = AfterCall(self.control, customers, list(settings.dispositions))
        bus.subscribe("desktop", self.feed.on_call_event, maxsize=FEED_QUEUE)
        acd_bus.subscribe("desktop", self.feed.on_acd_event, maxsize=FEED_QUEUE, accepts=(
            AgentStateChanged, WrapUpExtended, AgentPauseDeferred, AgentLogoutDeferred))

    def routers(self, guard: Guard) -> list[APIRouter]:
        return [
            desktop_routes(self.control, self.after_call, self.phones, self.settings, guard),
            websocket_routes(self.hub, guard, self.sessions, self.feed.snapshot, self.clock,
                             heartbeat=self.settings.heartbeat_seconds),
            page_routes(),
        ]

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self.feed.run(), name="desktop-feed")
            group.create_task(self.sessions.run(), name="websocket-sessions")

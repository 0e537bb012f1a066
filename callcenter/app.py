"""The composition root: builds every object of the running call center by hand and runs them.

One asyncio process holds the live state (tracker, bus); the database holds history. Every long-running
piece is a task of one TaskGroup, so a crash of any of them is seen, logged and ends the process
instead of leaving a half-working server behind.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import uvicorn
from argon2 import PasswordHasher

from callcenter.api import create_app
from callcenter.auth.service import AuthService, Clock, utc_now
from callcenter.bus import EventBus
from callcenter.customers.service import CustomerService
from callcenter.db.cdr import calls_between
from callcenter.db.engine import create_sessionmaker
from callcenter.migrations import migrate
from callcenter.recorders import CdrWriter, QueueLogWriter
from callcenter.settings import Settings
from cti.connection import AmiConnection
from cti.events import CallEnded, DomainEvent
from cti.pipeline import CtiPipeline
from cti.protocol import event_filter
from cti.tracker import Tracker

log = logging.getLogger(__name__)

# The history writers must not lose a call: their queues are deep, their drops are the alarm.
HISTORY_QUEUE = 100_000


class CallCenter:
    def __init__(self, settings: Settings, *, clock: Clock = utc_now,
                 password_hasher: PasswordHasher | None = None) -> None:
        """`clock` is the wall clock of sign-in and customer data (tests step it; the tracker runs on
        the event times it is fed); `password_hasher` defaults to argon2id with RFC 9106 parameters."""
        self.settings = settings
        self.bus: EventBus[DomainEvent] = EventBus()
        self.tracker = Tracker(settings.tracker_config())
        self.pipeline = CtiPipeline(self.tracker, self.bus.publish_all)
        ami = settings.ami
        self.connection = AmiConnection(
            ami.host, ami.port, ami.username, ami.secret.get_secret_value(),
            on_event=self.pipeline.on_event, on_ready=self.pipeline.on_ready, on_down=self.pipeline.on_down,
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
        self.bus.subscribe("cdr", self.cdr, accepts=(CallEnded,), maxsize=HISTORY_QUEUE)
        self.bus.subscribe("queue_log", self.queue_log, maxsize=HISTORY_QUEUE)
        self._server: uvicorn.Server | None = None
        self._stop_requested = False

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
        server = self._server = uvicorn.Server(
            uvicorn.Config(create_app(self), host=http.host, port=http.port, log_config=None,
                           access_log=False)
        )
        server.should_exit = self._stop_requested
        log.info("call center: HTTP on http://%s:%d, AMI %s:%d", http.host, http.port,
                 self.settings.ami.host, self.settings.ami.port)
        try:
            async with asyncio.TaskGroup() as group:
                bus_task = group.create_task(self.bus.run(), name="bus")
                ami_task = group.create_task(self.connection.run(), name="ami")
                await server.serve()  # returns on SIGINT / SIGTERM (uvicorn handles the signals)
                await self.connection.close()
                await asyncio.wait_for(self.bus.drain(), 30)
                ami_task.cancel()
                bus_task.cancel()
        finally:
            await self.engine.dispose()

"""The live CTI path end to end: fake AMI server -> connection (filtered) -> tracker -> event bus.

Scenario from the real trace t-resync: we attach while caller A waits and caller B talks to agent1001
(the fake answers the resync with the recorded list replies), then the rest of the trace arrives live.
A dropped connection in the middle must not count either call twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from fake_ami import FakeAmi
from trace_support import TRACES
from waiting import until as _until

from callcenter.bus import EventBus
from cti.connection import AmiConnection
from cti.events import CallConnected, CallEnded, CallStarted, DomainEvent
from cti.pipeline import CtiPipeline
from cti.protocol import event_filter
from cti.trace import TracePacket, read_trace
from cti.tracker import Tracker

SECOND_LOGIN_SESSION = "0x7f84ac00d5f0"
CALLER_A, CALLER_B = "1795355292.27", "1795355292.29"


def _after_second_login() -> list[TracePacket]:
    events = [e.packet for e in read_trace(TRACES / "contract" / "t-resync.jsonl") if e.is_event]
    cut = next(i for i, p in enumerate(events) if p.get("SessionID") == SECOND_LOGIN_SESSION)
    return events[cut + 1:]



@dataclass
class Live:
    fake: FakeAmi
    connection: AmiConnection
    pipeline: CtiPipeline
    seen: list[DomainEvent]
    bus: EventBus[DomainEvent]


@pytest.fixture
async def live() -> AsyncIterator[Live]:
    async with FakeAmi() as fake:
        bus: EventBus[DomainEvent] = EventBus()
        seen: list[DomainEvent] = []

        async def collect(event: DomainEvent) -> None:
            seen.append(event)

        bus.subscribe("test", collect)
        tracker = Tracker()
        pipeline = CtiPipeline(tracker, bus.publish_all)
        connection = AmiConnection(
            "127.0.0.1", fake.port, "cc", "ccsecret", on_event=pipeline.on_event, on_ready=pipeline.on_ready,
            on_down=pipeline.on_down, backoff_initial=0.01, backoff_max=0.05,
            event_filter=event_filter(tracker.handled_events, tracker.tracked_variables),
        )
        async with asyncio.TaskGroup() as group:
            bus_task = group.create_task(bus.run())
            run_task = group.create_task(connection.run())
            yield Live(fake, connection, pipeline, seen, bus)
            await connection.close()
            run_task.cancel()
            bus_task.cancel()


async def test_attach_resync_then_live_events(live: Live) -> None:
    await _until(lambda: live.pipeline.stats.resyncs == 1)
    await live.bus.drain()
    assert {e.call_id for e in live.seen if isinstance(e, CallStarted)} == {CALLER_A, CALLER_B}
    connected = [(e.call_id, e.agent) for e in live.seen if isinstance(e, CallConnected)]
    assert connected == [(CALLER_B, "agent1001")]

    live.fake.push_event(*_after_second_login())
    await _until(lambda: len(live.pipeline.tracker.calls) == 0)
    await live.bus.drain()
    ended = {e.call_id: e.record for e in live.seen if isinstance(e, CallEnded)}
    assert set(ended) == {CALLER_A, CALLER_B}
    assert ended[CALLER_A].outcome.value == "abandoned" and ended[CALLER_A].partial
    assert ended[CALLER_B].agent == "agent1001" and ended[CALLER_B].outcome.value == "answered"
    assert live.connection.stats.events_skipped > 0  # VarSet, RTCP ... never parsed into dicts


async def test_reconnect_resyncs_without_counting_a_call_twice(live: Live) -> None:
    await _until(lambda: live.pipeline.stats.resyncs == 1)
    live.fake.drop()
    await _until(lambda: live.pipeline.stats.resyncs == 2)
    assert live.pipeline.stats.connection_losses  # the drop was seen and reported
    live.fake.push_event(*_after_second_login())
    await _until(lambda: len(live.pipeline.tracker.calls) == 0)
    await live.bus.drain()
    started = [e.call_id for e in live.seen if isinstance(e, CallStarted)]
    ended = [e.call_id for e in live.seen if isinstance(e, CallEnded)]
    assert sorted(started) == sorted(ended) == [CALLER_A, CALLER_B]


async def test_a_resync_that_fails_is_reported_and_the_link_stays_up(live: Live) -> None:
    await _until(lambda: live.pipeline.stats.resyncs == 1)
    live.fake.mute.add("CoreShowChannels")
    live.connection.action_timeout = 0.2
    live.fake.drop()
    await _until(lambda: live.pipeline.stats.resync_failures == 1)
    assert live.connection.ready

"""The simulated PBX over TCP: our own AMI connection and tracker against it, as against Asterisk.

The PBX runs the lab's dialplan on the event loop's clock, sped up, with bot phones; the test plays
the ACD (a Redirect to cc-connect when the tracker says a caller waits). Fault injection is checked
through what the production connection sees: a reconnect, a half-open peer detected, a restart
followed by FullyBooted, garbage skipped.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from sim_harness import LAB
from waiting import until as _until

from callcenter.asterisk.dialplan import read_dialplan
from callcenter.simulator.ami_server import AmiServer
from callcenter.simulator.clock import LoopClock, Timer, VirtualClock
from callcenter.simulator.pbx import Pbx
from callcenter.simulator.people import AgentBehaviour, CallerBehaviour, People, Span
from cti.connection import AmiConnection
from cti.events import CallConnected, CallEnded, CallQueued, CallStarted, DomainEvent, PbxShutdown
from cti.pipeline import CtiPipeline
from cti.protocol import AmiParser, encode_action
from cti.tracker import Tracker

SPEED = 20.0  # PBX seconds per real second



@dataclass
class Rig:
    pbx: Pbx
    people: People
    server: AmiServer
    connection: AmiConnection
    pipeline: CtiPipeline
    seen: list[DomainEvent] = field(default_factory=list)
    downs: list[str] = field(default_factory=list)

    def of(self, kind: type) -> list[DomainEvent]:
        return [e for e in self.seen if isinstance(e, kind)]


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    pbx = Pbx(read_dialplan(LAB / "extensions.conf"), LoopClock(SPEED))
    people = People(pbx, random.Random(3))
    people.add_agent("agent1001", "1001", "Agent One", AgentBehaviour(Span(1.5, 1.5), 0.0, Span(600, 600)))
    server = AmiServer(pbx, port=0, username="cc", secret="ccsecret")
    await server.start()
    seen: list[DomainEvent] = []
    downs: list[str] = []
    pipeline = CtiPipeline(Tracker(), seen.extend, clock=pbx.clock.now)  # the PBX's (sped-up) time
    connection = AmiConnection("127.0.0.1", server.port, "cc", "ccsecret", on_event=pipeline.on_event,
                               on_ready=pipeline.on_ready, on_down=lambda reason: (downs.append(reason),
                                                                                   pipeline.on_down(reason)),
                               keepalive_interval=0.2, keepalive_timeout=0.4, backoff_initial=0.05,
                               backoff_max=0.2)
    task = asyncio.get_running_loop().create_task(connection.run())
    rig = Rig(pbx, people, server, connection, pipeline, seen, downs)
    try:
        await _until(lambda: connection.ready and pipeline.stats.resyncs > 0)
        yield rig
    finally:
        await connection.close()
        await asyncio.wait_for(task, 5)
        await server.stop()


async def _raw_session(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, AmiParser]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert await reader.readline() == b"Asterisk Call Manager/11.0.0\r\n"
    return reader, writer, AmiParser(expect_banner=False)


async def _ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, parser: AmiParser,
               action: dict[str, str]) -> dict[str, object]:
    writer.write(encode_action(action))
    while True:
        for packet in parser.feed(await asyncio.wait_for(reader.read(65536), 5)):
            if "Response" in packet and "Event" not in packet:
                return dict(packet)


async def test_login_and_errors_answer_as_asterisk_does(rig: Rig) -> None:
    reader, writer, parser = await _raw_session(rig.server.port)
    try:
        early = await _ask(reader, writer, parser, {"Action": "Ping", "ActionID": "p0"})
        assert (early["Response"], early["Message"]) == ("Error", "Permission denied")
        bad = await _ask(reader, writer, parser, {"Action": "Login", "ActionID": "l1", "Username": "cc",
                                                  "Secret": "wrong"})
        assert bad == {"Response": "Error", "ActionID": "l1", "Message": "Authentication failed"}
        good = await _ask(reader, writer, parser, {"Action": "Login", "ActionID": "l2", "Username": "cc",
                                                   "Secret": "ccsecret", "Events": "off"})
        assert good == {"Response": "Success", "ActionID": "l2", "Message": "Authentication accepted"}
        unknown = await _ask(reader, writer, parser, {"Action": "NoSuchAction", "ActionID": "u"})
        assert unknown["Message"] == ("Invalid/unknown command: NoSuchAction. Use Action: ListCommands to show "
                                      "available commands.")
        missing = await _ask(reader, writer, parser, {"Action": "Hangup", "ActionID": "h",
                                                      "Channel": "PJSIP/nosuch-00000000"})
        assert (missing["Response"], missing["Message"]) == ("Error", "No such channel")
        redirect = await _ask(reader, writer, parser, {"Action": "Redirect", "ActionID": "r",
                                                       "Channel": "PJSIP/nosuch-00000000", "Context": "cc-wait",
                                                       "Exten": "s", "Priority": "1"})
        assert redirect["Message"] == "Channel does not exist: PJSIP/nosuch-00000000"
        originate = await _ask(reader, writer, parser, {"Action": "Originate", "ActionID": "o",
                                                        "Exten": "1001", "Context": "agents"})
        assert originate["Message"] == "Channel not specified"
    finally:
        writer.close()
    assert rig.server.failed_logins == 1


async def test_a_call_through_the_simulator_is_tracked_end_to_end(rig: Rig) -> None:
    """Arrival, waiting (CCWaiting), the ACD's Redirect, the bot answers, talk, the caller hangs up."""
    rig.people.call(CallerBehaviour("8005550100", 0, Span(600, 600), Span(3, 3), numbers=("5552001",),
                                    names=("Mia Waiting",)))
    await _until(lambda: bool(rig.of(CallQueued)))
    started = rig.of(CallStarted)[0]
    assert isinstance(started, CallStarted) and (started.caller, started.dnis) == ("5552001", "8005550100")
    reply = await rig.connection.send({"Action": "Redirect", "Channel": started.channel, "Context": "cc-connect",
                                       "Exten": "agent1001", "Priority": "1"})
    assert reply["Message"] == "Redirect successful"
    await _until(lambda: bool(rig.of(CallEnded)))
    [connected] = rig.of(CallConnected)
    assert isinstance(connected, CallConnected) and connected.agent == "agent1001"
    [ended] = rig.of(CallEnded)
    assert isinstance(ended, CallEnded)
    record = ended.record
    assert (record.outcome.value, record.agent, record.caller, record.queue) == ("answered", "agent1001",
                                                                               "5552001", "support")
    # the caller talks 3 s of PBX time; delivery over TCP can only add to it (bounded for a loaded CI)
    assert 2.9 < record.talk_seconds < 6.0
    assert not record.partial


async def test_a_dropped_connection_is_reconnected_and_resynced(rig: Rig) -> None:
    rig.people.call(CallerBehaviour("8005550100", 0, Span(600, 600), Span(3, 3)))
    await _until(lambda: bool(rig.of(CallQueued)))
    resyncs = rig.pipeline.stats.resyncs
    rig.server.drop()
    await _until(lambda: rig.pipeline.stats.resyncs > resyncs)
    assert rig.downs and len(rig.pipeline.tracker.calls) == 1  # the waiting caller is still the one call


async def test_a_silent_pbx_is_detected_as_half_open(rig: Rig) -> None:
    resyncs = rig.pipeline.stats.resyncs
    rig.server.go_silent()
    await _until(lambda: bool(rig.downs), within=5)
    rig.server.wake_up()
    await _until(lambda: rig.pipeline.stats.resyncs > resyncs, within=5)
    assert rig.connection.ready


async def test_a_restart_ends_the_calls_and_the_connection_comes_back(rig: Rig) -> None:
    rig.people.call(CallerBehaviour("8005550100", 0, Span(600, 600), Span(3, 3)))
    await _until(lambda: bool(rig.of(CallQueued)))
    resyncs = rig.pipeline.stats.resyncs
    rig.server.restart()
    await _until(lambda: bool(rig.of(PbxShutdown)) and bool(rig.of(CallEnded)))
    await _until(lambda: rig.pipeline.stats.resyncs > resyncs and rig.connection.ready, within=8)
    assert rig.pbx.channels == {} and rig.pipeline.tracker.calls == {}


async def test_garbage_is_skipped_and_the_session_goes_on(rig: Rig) -> None:
    rig.server.send_garbage()
    reply = await rig.connection.send({"Action": "Ping"})
    assert reply["Ping"] == "Pong"
    assert rig.connection.stats.protocol_errors > 0 and rig.connection.stats.reconnects == 0


async def test_bot_callers_arrive_and_abandon_when_nobody_answers(rig: Rig) -> None:
    """Poisson arrivals; nobody routes them here, so each caller gives up after its patience."""
    rig.people.start_traffic([CallerBehaviour("8005550100", 120, Span(2, 2), Span(3, 3))])
    await _until(lambda: rig.people.stats.calls_abandoned >= 3, within=8)
    rig.people.stop_traffic()
    ended = [e for e in rig.of(CallEnded) if isinstance(e, CallEnded)]
    assert ended and all(e.record.outcome.value == "abandoned" for e in ended)


class _LateClock(VirtualClock):
    """Every timer fires `lag` seconds late, as on a loaded event loop."""

    def __init__(self, lag: float) -> None:
        super().__init__()
        self.lag = lag

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return super().call_later(delay + self.lag, callback)


def test_callers_arrive_at_the_asked_rate_even_when_timers_fire_late() -> None:
    """One caller a second on average for ten minutes, each arrival timer half a second late: the arrivals
    stay a Poisson process of the asked rate (each is due a gap after the previous one was due), instead
    of thinning out to one per 1.5 s."""
    clock = _LateClock(lag=0.5)
    people = People(Pbx(read_dialplan(LAB / "extensions.conf"), clock), random.Random(5))
    arrivals: list[float] = []
    people.call = lambda behaviour: arrivals.append(clock.now())  # type: ignore[method-assign,assignment,return-value]
    people.start_traffic([CallerBehaviour("8005550100", 60, Span(2, 2), Span(3, 3))])
    clock.advance(600)
    assert 540 <= len(arrivals) <= 660  # 600 expected (± 2.5 standard deviations); relative timers gave ~400

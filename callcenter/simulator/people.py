"""The simulated people around the PBX: callers on the trunk and agents' phones (bots).

Callers arrive per service number (DNIS) as a Poisson process, wait with a patience after which
they hang up (abandon), and once connected to an agent talk for a while and hang up, unless the
agent hangs up first. Bot phones ring, answer after a delay (or miss the call now and then), talk,
and hang up. Everything is drawn from one seeded random generator and the PBX's clock, so a
scenario replays the same at any speed.

A person in the browser can be an agent beside the bots: an endpoint with a `ManualPhone`, answered
from the agent page (`ManualPhone.answer`).
"""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from callcenter.simulator.channels import UNKNOWN, Channel, Event
from callcenter.simulator.clock import Timer
from callcenter.simulator.pbx import Endpoint, Pbx
from cti import contract

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Span:
    """Seconds drawn uniformly in [low, high] (low == high: always that)."""

    low: float
    high: float

    def draw(self, rng: random.Random) -> float:
        return self.low if self.high <= self.low else rng.uniform(self.low, self.high)


@dataclass(frozen=True)
class AgentBehaviour:
    answer_after: Span = Span(1.0, 4.0)
    miss_rate: float = 0.05  # share of calls the bot lets ring out
    talk: Span = Span(30.0, 240.0)  # the agent ends the call after this, if the caller has not
    break_every: Span | None = None  # a break this long after the last one (None: no breaks)
    break_length: Span = Span(120.0, 600.0)


class AgentDesk(Protocol):
    """What a bot agent does on the agent page: pause (not ready, with a reason) and get ready again."""

    def pause(self, agent_id: str, reason: str) -> object: ...

    def resume(self, agent_id: str) -> object: ...


@dataclass(frozen=True)
class CallerBehaviour:
    dnis: str
    calls_per_minute: float
    patience: Span = Span(30.0, 180.0)  # hangs up if not with an agent by then
    talk: Span = Span(20.0, 200.0)  # hangs up this long after reaching an agent
    digits: str = ""  # what the caller presses in the IVR: one comma-separated group per question asked
    numbers: tuple[str, ...] = ()  # calling numbers to draw from; empty: random 555 numbers
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class CustomerBehaviour:
    """Customers the center calls over the trunk (click-to-call, callbacks, campaigns)."""

    busy: tuple[str, ...] = ("5550000",)  # these numbers are busy
    no_answer: tuple[str, ...] = ("5550001",)  # these ring until the caller gives up
    unreachable: tuple[str, ...] = ("5550002",)  # these do not exist (unallocated number)
    answer_after: Span = Span(2.0, 6.0)
    talk: Span = Span(30.0, 120.0)  # the customer hangs up after this, if the agent has not


@dataclass
class PeopleStats:
    calls_offered: int = 0
    calls_connected: int = 0
    calls_abandoned: int = 0
    rings: int = 0
    answers: int = 0
    missed: int = 0
    breaks: int = 0
    outbound_dialled: int = 0
    outbound_answered: int = 0
    by_dnis: dict[str, int] = field(default_factory=dict)


class _AnsweringPhone:
    """A phone that answers after a delay and hangs up after a talk time, unless the other side ends first."""

    def __init__(self, people: People, talk: Span) -> None:
        self.people = people
        self.talk = talk
        self._timers: dict[str, Timer] = {}

    def _answer_later(self, pbx: Pbx, channel: Channel, delay: float) -> None:
        self._timers[channel.uniqueid] = pbx.clock.call_later(delay, lambda: self._answer(pbx, channel))

    def stopped_ringing(self, pbx: Pbx, channel: Channel) -> None:
        timer = self._timers.pop(channel.uniqueid, None)
        if timer is not None:
            timer.cancel()

    def _answer(self, pbx: Pbx, channel: Channel) -> None:
        self._timers.pop(channel.uniqueid, None)
        if channel.gone:
            return
        self.answered()
        pbx.answer(channel)
        pbx.clock.call_later(self.talk.draw(self.people.rng),
                             lambda: pbx.remote_hangup(channel) if not channel.gone else None)

    def answered(self) -> None:
        """Count it (the subclass knows in which figure)."""


class BotPhone(_AnsweringPhone):
    """An agent's phone with a bot behind it (and the bot's breaks, through the agent page)."""

    def __init__(self, people: People, behaviour: AgentBehaviour, agent_id: str = "") -> None:
        super().__init__(people, behaviour.talk)
        self.behaviour = behaviour
        self.agent_id = agent_id

    def plan_break(self) -> None:
        every = self.behaviour.break_every
        if every is None:
            return
        self.people.pbx.clock.call_later(every.draw(self.people.rng), self._take_break)

    def _take_break(self) -> None:
        desk = self.people.desk
        if desk is not None and self.people.running:
            self.people.stats.breaks += 1
            desk.pause(self.agent_id, "break")  # during a call the pause starts when the call's work is done
            self.people.pbx.clock.call_later(self.behaviour.break_length.draw(self.people.rng), self._back)
        else:
            self.plan_break()

    def _back(self) -> None:
        if self.people.desk is not None:
            self.people.desk.resume(self.agent_id)
        self.plan_break()

    # a bot that let a call ring out notices it is not ready (ring-no-answer) and gets ready again
    BACK_AFTER_MISS = 45.0

    def ringing(self, pbx: Pbx, channel: Channel) -> None:
        self.people.stats.rings += 1
        if self.people.rng.random() < self.behaviour.miss_rate:
            self.people.stats.missed += 1
            if self.people.desk is not None:
                pbx.clock.call_later(self.BACK_AFTER_MISS, self._back_from_miss)
            return
        self._answer_later(pbx, channel, self.behaviour.answer_after.draw(self.people.rng))

    def _back_from_miss(self) -> None:
        if self.people.desk is not None:
            self.people.desk.resume(self.agent_id)

    def answered(self) -> None:
        self.people.stats.answers += 1


class TrunkCustomers(_AnsweringPhone):
    """The far side of the trunk for calls the center makes: each dialled number answers, is busy, does
    not answer or does not exist, as `CustomerBehaviour` says."""

    BUSY, UNALLOCATED = 17, 1  # Q.850 causes of the trunk's answer

    def __init__(self, people: People, behaviour: CustomerBehaviour) -> None:
        super().__init__(people, behaviour.talk)
        self.behaviour = behaviour

    def ringing(self, pbx: Pbx, channel: Channel) -> None:
        number = channel.dnid
        self.people.stats.outbound_dialled += 1
        if number in self.behaviour.no_answer:
            return
        if number in self.behaviour.busy or number in self.behaviour.unreachable:
            cause = self.BUSY if number in self.behaviour.busy else self.UNALLOCATED
            self._timers[channel.uniqueid] = pbx.clock.call_later(
                0.5, lambda: pbx.remote_hangup(channel, cause) if not channel.gone else None)
            return
        self._answer_later(pbx, channel, self.behaviour.answer_after.draw(self.people.rng))

    def answered(self) -> None:
        self.people.stats.outbound_answered += 1


class ManualPhone:
    """A phone answered by a person (from the agent page); it rings until answered or given up."""

    def __init__(self) -> None:
        self.ringing_channel: Channel | None = None
        self.on_ring: Callable[[Channel], None] | None = None

    def ringing(self, pbx: Pbx, channel: Channel) -> None:
        self.ringing_channel = channel
        if self.on_ring is not None:
            self.on_ring(channel)

    def stopped_ringing(self, pbx: Pbx, channel: Channel) -> None:
        if self.ringing_channel is channel:
            self.ringing_channel = None

    def answer(self, pbx: Pbx) -> bool:
        channel, self.ringing_channel = self.ringing_channel, None
        if channel is None or channel.gone:
            return False
        pbx.answer(channel)
        return True


FIRST_KEY_AFTER = 0.7  # seconds from a question to the first key (s: 0.7 s into GET DATA)
KEY_GAP = 0.35  # between keys (s: 350 ms)
KEY_PRESS = 0.1  # DTMFBegin to DTMFEnd (s: 100 ms)
QUESTIONS = ("GET DATA", "WAIT FOR DIGIT")  # AGI commands that wait for the caller's keys


class _Caller:
    def __init__(self, people: People, channel: Channel, behaviour: CallerBehaviour) -> None:
        self.people = people
        self.channel = channel
        self.behaviour = behaviour
        self.answers = [group for group in behaviour.digits.split(",") if group]
        self.connected = False
        pbx = people.pbx
        self.timer: Timer | None = pbx.clock.call_later(behaviour.patience.draw(people.rng), self._give_up)

    def _give_up(self) -> None:
        self.timer = None
        if not self.channel.gone and not self.connected:
            self.people.stats.calls_abandoned += 1
            self.people.pbx.remote_hangup(self.channel)

    def event(self, event: Event) -> None:
        name = event.get("Event")
        if name == "AGIExecStart" and event.get("Command", "").upper().startswith(QUESTIONS) and self.answers:
            self._press(self.answers.pop(0))
        elif name == "BridgeEnter" and not self.connected:
            self.connected = True
            self.people.stats.calls_connected += 1
            if self.timer is not None:
                self.timer.cancel()
            self.timer = self.people.pbx.clock.call_later(self.behaviour.talk.draw(self.people.rng), self._hang_up)
        elif name == "BridgeLeave" and self.connected and not self.channel.gone:
            # back in the queue (a transfer to the queue, the agent hung up with the caller kept):
            # patience starts again
            self.connected = False
            if self.timer is not None:
                self.timer.cancel()
            self.timer = self.people.pbx.clock.call_later(self.behaviour.patience.draw(self.people.rng),
                                                           self._give_up)
        elif name == "Hangup":
            if self.timer is not None:
                self.timer.cancel()
            self.people.callers.pop(self.channel.uniqueid, None)

    def _press(self, keys: str) -> None:
        pbx = self.people.pbx
        for n, key in enumerate(keys):
            at = FIRST_KEY_AFTER + n * KEY_GAP
            pbx.clock.call_later(at, functools.partial(self._key, pbx.dtmf_begin, key))
            pbx.clock.call_later(at + KEY_PRESS, functools.partial(self._key, pbx.dtmf_end, key))

    def _key(self, press: Callable[[Channel, str], None], key: str) -> None:
        if not self.channel.gone:
            press(self.channel, key)

    def _hang_up(self) -> None:
        self.timer = None
        if not self.channel.gone:
            self.people.pbx.remote_hangup(self.channel)


class People:
    """Everyone around one simulated PBX."""

    def __init__(self, pbx: Pbx, rng: random.Random, *, trunk_context: str = contract.INBOUND_CONTEXT) -> None:
        self.pbx = pbx
        self.rng = rng
        self.trunk_context = trunk_context
        self.stats = PeopleStats()
        self.callers: dict[str, _Caller] = {}
        self._traffic: list[tuple[CallerBehaviour, Timer | None]] = []
        self._running = False
        self._generation = 0  # traffic started again replaces the one before
        self.desk: AgentDesk | None = None  # set by whoever runs the agent page the bots use
        pbx.listeners.append(self._on_event)

    # ---- agents --------------------------------------------------------------------------------------
    def add_agent(self, name: str, number: str, display_name: str, behaviour: AgentBehaviour | None, *,
                  context: str = "agents") -> Endpoint:
        """An agent endpoint: a bot's phone, or (behaviour None) a phone a person answers."""
        phone = BotPhone(self, behaviour, name) if behaviour is not None else ManualPhone()
        endpoint = Endpoint(name, context, number, display_name, phone)
        self.pbx.endpoints[name] = endpoint
        return endpoint

    def add_supervisor(self, name: str, number: str, display_name: str, *, bot: bool = True,
                       context: str = contract.SUPERVISOR_PHONE_CONTEXT) -> Endpoint:
        """A supervisor's phone: a bot answers at once (listen, whisper, barge are Originated to it), or a
        person answers it from the supervisor page."""
        behaviour = AgentBehaviour(Span(0.5, 0.5), 0.0, Span(4 * 3600, 4 * 3600)) if bot else None
        return self.add_agent(name, number, display_name, behaviour, context=context)

    def add_trunk(self, name: str = contract.TRUNK_ENDPOINT, behaviour: CustomerBehaviour | None = None, *,
                  context: str = contract.INBOUND_CONTEXT) -> Endpoint:
        """The trunk's endpoint: inbound calls come from it; numbers dialled over it reach customers."""
        endpoint = Endpoint(name, context, UNKNOWN, UNKNOWN, TrunkCustomers(self, behaviour or CustomerBehaviour()))
        self.pbx.endpoints[name] = endpoint
        return endpoint

    # ---- callers -------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._running

    def start_traffic(self, behaviours: list[CallerBehaviour]) -> None:
        """Callers per these behaviours from now on (instead of any traffic started before)."""
        self._running = True
        self._generation += 1
        for behaviour in behaviours:
            self._schedule_next(behaviour, self._generation)
        if self._generation == 1:
            for endpoint in self.pbx.endpoints.values():
                if isinstance(endpoint.phone, BotPhone):
                    endpoint.phone.plan_break()

    def stop_traffic(self) -> None:
        self._running = False

    def _schedule_next(self, behaviour: CallerBehaviour, generation: int, after: float | None = None) -> None:
        """The next caller, due an exponential gap after the previous one was due (`after`), not after its
        timer fired: a timer late under load must not thin the arrivals out (open loop, Poisson)."""
        if not self._running or behaviour.calls_per_minute <= 0:
            return
        clock = self.pbx.clock
        due = (clock.now() if after is None else after) + self.rng.expovariate(behaviour.calls_per_minute / 60.0)

        def arrive() -> None:
            if not self._running or generation != self._generation:
                return
            self.call(behaviour)
            self._schedule_next(behaviour, generation, due)

        clock.call_later(due - clock.now(), arrive)

    def call(self, behaviour: CallerBehaviour) -> Channel:
        """One caller dials `behaviour.dnis` now."""
        if behaviour.numbers:
            index = self.rng.randrange(len(behaviour.numbers))
            number = behaviour.numbers[index]
            name = behaviour.names[index] if index < len(behaviour.names) else ""
        else:
            number, name = f"555{self.rng.randrange(10_000):04d}", ""
        self.stats.calls_offered += 1
        self.stats.by_dnis[behaviour.dnis] = self.stats.by_dnis.get(behaviour.dnis, 0) + 1
        channel = self.pbx.inbound_call(behaviour.dnis, number, name, context=self.trunk_context)
        if not channel.gone:
            self.callers[channel.uniqueid] = _Caller(self, channel, behaviour)
        return channel

    def _on_event(self, event: Event) -> None:
        uniqueid = event.get("Uniqueid")
        if uniqueid is None:
            return
        caller = self.callers.get(uniqueid)
        if caller is not None:
            caller.event(event)


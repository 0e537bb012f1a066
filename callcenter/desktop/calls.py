"""The desktop's book of live calls: what each agent's screen shows, kept from the tracker's events.

It answers the questions the agent page and the call controls ask: which call is this agent on (ringing,
talking, held, consulting), which channel is the caller's (to redirect it), which leg is the agent's (to hang
it up), what the caller pressed in the IVR, and, for a while after the end, who handled a call (the
after-call form is filled in after the caller has gone). Pure: domain events in, changed calls out; no I/O.

An attended transfer: the agent who consults keeps the call (`agent`, status `consulting`) while the caller
holds; the agent consulted sees it too (`consultation.target_agent`: their phone rings, then they talk to the
first agent) without controlling it; when the transfer completes the call is the consulted agent's.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cti.events import (
    AgentDisconnected,
    CallAbandoned,
    CallConnected,
    CallEnded,
    CallHeld,
    CallOffered,
    CallQueued,
    CallResumed,
    CallStarted,
    CallTransferred,
    ConsultationAnswered,
    ConsultationEnded,
    ConsultationOutcome,
    ConsultationStarted,
    DigitsReceived,
    DomainEvent,
    OfferUnanswered,
    PbxShutdown,
)

RECENT_CALLS = 10_000  # finished calls remembered for the after-call form
DIGITS_MAX = 64


class CallStatus(StrEnum):
    IVR = "ivr"            # in the voice menu
    WAITING = "waiting"    # in a queue
    RINGING = "ringing"    # an agent's phone rings
    TALKING = "talking"
    HELD = "held"
    CONSULTING = "consulting"  # the agent talks to (or rings) someone else first; the caller holds
    NO_AGENT = "no_agent"  # the agent left (hung up, transferred): the caller hears goodbye or moves on
    ENDED = "ended"


class Change(StrEnum):
    """What happened to a call, as the `call` websocket message says it (`event`)."""

    STARTED = "started"
    QUEUED = "queued"
    RINGING = "ringing"
    UNANSWERED = "unanswered"
    CONNECTED = "connected"
    HELD = "held"
    RESUMED = "resumed"
    DISCONNECTED = "disconnected"  # an agent left the call (hung up, transferred it)
    TRANSFERRED = "transferred"
    CONSULTING = "consulting"  # the agent started a consultation (attended transfer): the target rings
    CONSULT_ANSWERED = "consult_answered"  # the one consulted answered
    CONSULT_ENDED = "consult_ended"  # over: transferred, or the agent has the caller back (+ outcome)
    ENDED = "ended"
    DIGIT = "digit"


@dataclass
class Consultation:
    """An attended transfer in progress on a call."""

    agent: str                     # the agent consulting (the call's agent)
    agent_leg: str                 # their leg (Uniqueid): CancelAtxfer names it, hanging it up completes
    to: str | None                 # what they dialled: an agent endpoint or a number
    started_at: float
    target_agent: str | None = None  # the agent consulted (their phone rings, then they talk)
    answered: bool = False
    talking_since: float | None = None  # when the consulting agent began talking to the caller

    def to_json(self) -> dict[str, Any]:
        return {"agent": self.agent, "to": self.to, "target_agent": self.target_agent,
                "state": "talking" if self.answered else "ringing", "started_at": round(self.started_at, 1)}


@dataclass
class DeskCall:
    call_id: str
    caller: str | None
    caller_name: str | None
    dnis: str | None
    caller_channel: str
    started_at: float
    direction: str
    status: CallStatus = CallStatus.IVR
    queue: str | None = None
    queued_at: float | None = None
    agent: str | None = None            # the agent ringing or talking now
    agent_leg: str | None = None        # that agent's leg (Uniqueid)
    ringing_since: float | None = None
    connected_at: float | None = None
    held_since: float | None = None
    ended_at: float | None = None
    digits: str = ""                    # keys the caller pressed before reaching an agent (the IVR's input)
    handled_by: set[str] = field(default_factory=set)  # agents who talked to the caller
    transfers: list[dict[str, Any]] = field(default_factory=list)
    customer_id: int | None = None      # set by the screen pop once the customer lookup answers
    customer_ref: str | None = None     # the customer the IVR identified (CC_CUSTOMER, their reference)
    ivr_path: list[str] = field(default_factory=list)  # the IVR nodes the caller went through (CC_IVR_PATH)
    ivr_variables: dict[str, str] = field(default_factory=dict)  # what the IVR decided (customer, priority...)
    screen_pop: dict[str, Any] | None = None  # the last screen pop shown for this call
    consultation: Consultation | None = None

    def waited(self, now: float) -> float:
        """Seconds since the caller entered the queue (or the call began), until an agent answered."""
        since = self.queued_at if self.queued_at is not None else self.started_at
        until = self.connected_at if self.connected_at is not None else now
        return round(max(until - since, 0.0), 1)

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            "call_id": self.call_id, "status": self.status.value, "direction": self.direction,
            "caller": self.caller, "caller_name": self.caller_name, "dnis": self.dnis, "queue": self.queue,
            "agent": self.agent, "started_at": round(self.started_at, 1),
            "ringing_since": _r(self.ringing_since), "connected_at": _r(self.connected_at),
            "held_since": _r(self.held_since), "waited": self.waited(now), "ivr_digits": self.digits,
            "transfers": list(self.transfers),
            "consultation": self.consultation.to_json() if self.consultation is not None else None,
        }


@dataclass(frozen=True, slots=True)
class CallChange:
    call: DeskCall
    change: Change
    agents: tuple[str, ...]  # whose screens show it (the agent ringing / talking / who just left)
    detail: dict[str, Any]
    talked_since: float | None = None  # CONSULT_ENDED, the first agent done: since when they were on it


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class CallBook:
    def __init__(self, recent: int = RECENT_CALLS) -> None:
        self.calls: dict[str, DeskCall] = {}
        self.by_agent: dict[str, str] = {}  # agent -> the call ringing or talking at that agent
        self.recent: OrderedDict[str, DeskCall] = OrderedDict()
        self._recent_max = recent

    def call(self, call_id: str) -> DeskCall | None:
        return self.calls.get(call_id) or self.recent.get(call_id)

    def agent_call(self, agent: str) -> DeskCall | None:
        call_id = self.by_agent.get(agent)
        return None if call_id is None else self.calls.get(call_id)

    def handle(self, event: DomainEvent) -> list[CallChange]:
        if isinstance(event, CallStarted):
            call = DeskCall(event.call_id, event.caller, event.caller_name, event.dnis, event.channel, event.at,
                            event.direction.value)
            self.calls[event.call_id] = call
            return [CallChange(call, Change.STARTED, (), {})]
        if isinstance(event, PbxShutdown):
            out = []
            for live in list(self.calls.values()):
                out += self._end(live, event.at)
            return out
        found = self.calls.get(getattr(event, "call_id", None) or "")
        if found is None:
            return []
        call = found
        if isinstance(event, DigitsReceived):
            if event.from_caller and call.connected_at is None and len(call.digits) < DIGITS_MAX:
                call.digits += event.digit
                return [CallChange(call, Change.DIGIT, (), {"digit": event.digit})]
            return []
        if isinstance(event, CallQueued):
            call.status, call.queue = CallStatus.WAITING, event.queue
            call.customer_ref = event.customer or call.customer_ref
            if event.ivr_path:
                call.ivr_path = event.ivr_path.split(",")
            decided = (("customer", event.customer), ("priority", str(event.priority) if event.priority else None),
                       ("skills", event.skills), ("preferred_agent", event.preferred_agent))
            call.ivr_variables = {name: value for name, value in decided if value}
            if call.queued_at is None:
                call.queued_at = event.at
            return [CallChange(call, Change.QUEUED, (), {})]
        if isinstance(event, ConsultationStarted | ConsultationAnswered | ConsultationEnded):
            return self._consultation(call, event)
        if isinstance(event, CallOffered) and call.consultation is not None:
            # the one consulted: their phone rings (their screen pops); the call stays the first agent's
            call.consultation.target_agent = event.agent
            self.by_agent[event.agent] = call.call_id
            return [CallChange(call, Change.RINGING, (event.agent,), {"consultation": True})]
        if isinstance(event, CallOffered):
            self._leave(call)
            call.status, call.agent, call.agent_leg, call.ringing_since = (
                CallStatus.RINGING, event.agent, event.uniqueid, event.at)
            call.connected_at = None
            call.queue = event.queue or call.queue
            self.by_agent[event.agent] = call.call_id
            return [CallChange(call, Change.RINGING, (event.agent,), {})]
        if isinstance(event, OfferUnanswered):
            if call.agent != event.agent or call.status != CallStatus.RINGING:
                return []
            self._leave(call)
            call.status = CallStatus.WAITING
            return [CallChange(call, Change.UNANSWERED, (event.agent,), {"dial_status": event.dial_status})]
        if isinstance(event, CallConnected):
            if call.consultation is not None and call.consultation.agent_leg == event.uniqueid:
                return []  # back from consulting: the consultation's end says so
            if call.agent is not None and call.agent != event.agent:
                self._leave(call)
            call.status, call.agent, call.agent_leg = CallStatus.TALKING, event.agent, event.uniqueid
            call.connected_at, call.held_since = event.at, None
            call.handled_by.add(event.agent)
            self.by_agent[event.agent] = call.call_id
            return [CallChange(call, Change.CONNECTED, (event.agent,), {})]
        if isinstance(event, CallHeld):
            call.status, call.held_since = CallStatus.HELD, event.at
            return [CallChange(call, Change.HELD, self._agents(call), {})]
        if isinstance(event, CallResumed):
            call.held_since = None
            consulting = call.consultation is not None and call.consultation.agent == call.agent
            call.status = CallStatus.CONSULTING if consulting else CallStatus.TALKING
            return [CallChange(call, Change.RESUMED, self._agents(call), {"held_seconds": event.held_seconds})]
        if isinstance(event, AgentDisconnected):
            if call.agent != event.agent:
                return []
            if call.consultation is not None and call.consultation.agent_leg == event.uniqueid:
                return []  # left the caller to consult: still the call's agent
            self._leave(call)
            call.status, call.held_since = CallStatus.NO_AGENT, None
            return [CallChange(call, Change.DISCONNECTED, (event.agent,), {"reason": event.reason.value})]
        if isinstance(event, CallTransferred):
            transfer = {"kind": event.kind.value, "to": event.to, "by_agent": event.by_agent, "at": round(event.at, 1)}
            call.transfers.append(transfer)
            agents = tuple(a for a in (event.by_agent, call.agent) if a is not None)
            return [CallChange(call, Change.TRANSFERRED, agents, transfer)]
        if isinstance(event, CallAbandoned | CallEnded):
            return self._end(call, event.at)
        return []

    def _consultation(self, call: DeskCall,
                      event: ConsultationStarted | ConsultationAnswered | ConsultationEnded) -> list[CallChange]:
        consultation = call.consultation
        if isinstance(event, ConsultationStarted):
            if event.agent is None or call.agent != event.agent:
                return []
            call.consultation = Consultation(event.agent, event.uniqueid, event.to, event.at,
                                             talking_since=call.connected_at)
            call.status = CallStatus.CONSULTING
            return [CallChange(call, Change.CONSULTING, (event.agent,), {})]
        if consultation is None or consultation.agent_leg != event.uniqueid:
            return []
        if isinstance(event, ConsultationAnswered):
            consultation.answered = True
            consultation.target_agent = consultation.target_agent or event.target_agent
            return [CallChange(call, Change.CONSULT_ANSWERED, self._consulting_agents(consultation), {})]
        agents = self._consulting_agents(consultation)
        call.consultation = None
        target = consultation.target_agent
        if target is not None and target != call.agent and self.by_agent.get(target) == call.call_id:
            del self.by_agent[target]  # only consulted: no longer on it
        if event.outcome is ConsultationOutcome.ENDED and call.agent == consultation.agent:
            self._leave(call)  # the agent hung up with no caller left to transfer
            call.status = CallStatus.NO_AGENT
        elif call.status is CallStatus.CONSULTING:
            call.status = CallStatus.HELD if call.held_since is not None else CallStatus.TALKING
        done = event.outcome is not ConsultationOutcome.RETURNED  # the consulting agent is off the call
        return [CallChange(call, Change.CONSULT_ENDED, agents, {"outcome": event.outcome.value},
                           talked_since=consultation.talking_since if done else None)]

    @staticmethod
    def _consulting_agents(consultation: Consultation) -> tuple[str, ...]:
        target = consultation.target_agent
        return (consultation.agent, target) if target is not None and target != consultation.agent \
            else (consultation.agent,)

    def _agents(self, call: DeskCall) -> tuple[str, ...]:
        return (call.agent,) if call.agent is not None else ()

    def _leave(self, call: DeskCall) -> None:
        """The agent ringing or talking is no longer on this call."""
        if call.agent is not None and self.by_agent.get(call.agent) == call.call_id:
            del self.by_agent[call.agent]
        call.agent = call.agent_leg = call.ringing_since = None

    def _end(self, call: DeskCall, at: float) -> list[CallChange]:
        agents = self._agents(call)
        self._leave(call)
        for agent in [a for a, c in self.by_agent.items() if c == call.call_id]:  # consulted on it
            del self.by_agent[agent]
        call.consultation = None
        call.status, call.ended_at, call.held_since = CallStatus.ENDED, at, None
        del self.calls[call.call_id]
        self.recent[call.call_id] = call
        while len(self.recent) > self._recent_max:
            self.recent.popitem(last=False)
        return [CallChange(call, Change.ENDED, agents, {})]

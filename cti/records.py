"""The finished-call record: what the tracker knows about a call once its last leg has hung up.

A `CallRecord` is the unit of call history. The replay command prints it, the CDR writer stores it
(one call row, one row per leg, one per transfer) and reports read it. Times are on the clock the
tracker was driven with (`now`): epoch seconds live, trace seconds (`_t`) in a replay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class CallOutcome(StrEnum):
    ANSWERED = "answered"        # connected to an agent and ended there
    ABANDONED = "abandoned"      # never connected to an agent
    TRANSFERRED = "transferred"  # connected, then moved on by a transfer
    FAILED = "failed"            # could not be set up (e.g. an originate that never produced a call)


class Direction(StrEnum):
    INBOUND = "inbound"    # a caller came in on a trunk
    OUTBOUND = "outbound"  # the call began on an agent's leg (click-to-call, campaigns, announcements)


class LegRole(StrEnum):
    CALLER = "caller"    # the inbound trunk leg: the customer as the call center sees them
    AGENT = "agent"      # a leg to an agent's phone
    SPY = "spy"          # a supervisor's listen / whisper / barge leg
    LOCAL = "local"      # a Local channel half
    OTHER = "other"      # anything else that joined the call (outside numbers, the customer's own phone)


class TransferKind(StrEnum):
    BLIND = "blind"
    ATTENDED = "attended"
    REDIRECT = "redirect"


@dataclass(frozen=True, slots=True)
class Transfer:
    kind: TransferKind
    to: str | None     # agent endpoint, number or dialplan location the call was moved to
    at: float


@dataclass(frozen=True, slots=True)
class LegRecord:
    uniqueid: str
    channel: str
    role: LegRole
    endpoint: str | None        # PJSIP endpoint name (e.g. agent1001) when the leg is a SIP channel
    created_at: float
    answered_at: float | None
    ended_at: float
    hangup_cause: int | None     # Q.850 cause of the leg's Hangup event
    dial_status: str | None      # DialEnd DialStatus when the leg was dialled (ANSWER, NOANSWER, ...)


@dataclass(frozen=True, slots=True)
class CallRecord:
    call_id: str                  # the caller leg's Linkedid
    direction: Direction
    caller: str | None            # ANI
    dnis: str | None              # dialled service number
    queue: str | None
    agent: str | None             # endpoint of the agent who last talked to the caller
    agents_rung: tuple[str, ...]  # endpoints in the order they were rung (repeats kept)
    outcome: CallOutcome
    started_at: float
    answered_at: float | None     # first connected to an agent
    ended_at: float
    wait_seconds: float           # until first connected to an agent, or until hangup
    talk_seconds: float           # time connected to agents
    hold_seconds: float
    transfers: tuple[Transfer, ...] = ()
    recordings: tuple[str, ...] = ()
    hangup_cause: int | None = None
    hangup_cause_text: str | None = None
    partial: bool = False         # tracking began mid-call (attach, resync): early facts may be missing
    legs: tuple[LegRecord, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """The replay / export form (documented in the README)."""
        return {
            "call_id": self.call_id,
            "direction": self.direction.value,
            "caller": self.caller,
            "dnis": self.dnis,
            "queue": self.queue,
            "agent": self.agent,
            "agents_rung": list(self.agents_rung),
            "outcome": self.outcome.value,
            "started_at": _r(self.started_at),
            "ended_at": _r(self.ended_at),
            "wait_seconds": _r(self.wait_seconds),
            "talk_seconds": _r(self.talk_seconds),
            "hold_seconds": _r(self.hold_seconds),
            "transfers": [{"kind": t.kind.value, "to": t.to, "at": _r(t.at)} for t in self.transfers],
            "recordings": list(self.recordings),
            "hangup_cause": self.hangup_cause,
            "hangup_cause_text": self.hangup_cause_text,
            "partial": self.partial,
            "legs": [
                {
                    "uniqueid": leg.uniqueid,
                    "channel": leg.channel,
                    "role": leg.role.value,
                    "endpoint": leg.endpoint,
                    "created_at": _r(leg.created_at),
                    "answered_at": None if leg.answered_at is None else _r(leg.answered_at),
                    "ended_at": _r(leg.ended_at),
                    "hangup_cause": leg.hangup_cause,
                    "dial_status": leg.dial_status,
                }
                for leg in self.legs
            ],
        }


@dataclass(frozen=True, slots=True)
class LiveCall:
    """A call in progress, as a read-only view for status pages and dashboards."""

    call_id: str
    direction: Direction
    caller: str | None
    dnis: str | None
    queue: str | None
    state: str                # "waiting", "talking", "held" or "other" (IVR, ringing, post-call)
    agents: tuple[str, ...]   # agents talking to the caller now
    started_at: float
    partial: bool
    # what the IVR left on the caller for the ACD (CC_PRIORITY, CC_SKILLS, CC_CUSTOMER, CC_PREFERRED_AGENT): a restarted
    # server's router takes waiting callers back with them
    priority: int = 0
    skills: str | None = None
    customer: str | None = None
    preferred_agent: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "direction": self.direction.value,
            "caller": self.caller,
            "dnis": self.dnis,
            "queue": self.queue,
            "state": self.state,
            "agents": list(self.agents),
            "started_at": _r(self.started_at),
            "partial": self.partial,
        }


def _r(seconds: float) -> float:
    """0.1 s resolution, as the replay schema promises."""
    return round(seconds, 1)

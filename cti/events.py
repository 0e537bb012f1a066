"""Domain events: what the tracker tells the rest of the product about calls.

Every event is a frozen dataclass named in the past tense, carrying `at` (the tracker's clock) and the
`call_id` (the caller leg's Linkedid) where one exists. Raw AMI dictionaries never appear here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cti.records import CallRecord, Direction, TransferKind


class DisconnectReason(StrEnum):
    AGENT_HANGUP = "agent_hangup"    # the agent's leg hung up
    CALLER_HANGUP = "caller_hangup"  # the caller hung up
    MOVED = "moved"                  # transfer, redirect or consultation: nobody hung up


class ConsultationOutcome(StrEnum):
    TRANSFERRED = "transferred"  # the caller now talks to the one consulted (AttendedTransfer)
    RETURNED = "returned"        # the agent has the caller back (cancelled; the target did not answer or left)
    ENDED = "ended"              # the agent hung up with no caller left to transfer, or the call ended


class QueueSource(StrEnum):
    CONTRACT = "contract"    # our own ACD: the caller sits in the waiting context
    APP_QUEUE = "app_queue"  # Asterisk's app_queue put the caller in a queue


@dataclass(frozen=True, slots=True)
class CallStarted:
    at: float
    call_id: str
    direction: Direction
    caller: str | None
    caller_name: str | None
    dnis: str | None
    channel: str
    partial: bool = False


@dataclass(frozen=True, slots=True)
class DigitsReceived:
    """A DTMF digit from the caller (IVR input) or an agent leg."""

    at: float
    call_id: str
    uniqueid: str
    digit: str
    from_caller: bool


@dataclass(frozen=True, slots=True)
class CallQueued:
    """The caller waits for an agent (first time, or back after a failed offer or a transfer)."""

    at: float
    call_id: str
    queue: str | None
    source: QueueSource
    position: int | None = None
    priority: int = 0            # what the IVR left on the caller (CC_PRIORITY, CC_SKILLS, CC_CUSTOMER)
    skills: str | None = None    # "skill:level,..."
    customer: str | None = None  # the customer's reference
    preferred_agent: str | None = None  # the agent the IVR chose (CC_PREFERRED_AGENT)
    ivr_path: str | None = None  # the IVR nodes the caller went through, comma separated (CC_IVR_PATH)


@dataclass(frozen=True, slots=True)
class CallOffered:
    """An agent's phone rings for this call: the screen-pop moment."""

    at: float
    call_id: str
    agent: str
    uniqueid: str  # the agent leg
    queue: str | None


@dataclass(frozen=True, slots=True)
class OfferUnanswered:
    """An agent's leg for this call stopped ringing without being answered."""

    at: float
    call_id: str
    agent: str
    uniqueid: str
    dial_status: str | None  # NOANSWER, CANCEL, BUSY, ... (None when the leg just hung up)
    ring_seconds: float


@dataclass(frozen=True, slots=True)
class CallConnected:
    """The caller is now talking to this agent."""

    at: float
    call_id: str
    agent: str
    uniqueid: str
    queue: str | None
    wait_seconds: float


@dataclass(frozen=True, slots=True)
class AgentDisconnected:
    """The agent is no longer talking to the caller (hangup, transfer, redirect)."""

    at: float
    call_id: str
    agent: str
    uniqueid: str
    reason: DisconnectReason


@dataclass(frozen=True, slots=True)
class CallHeld:
    at: float
    call_id: str


@dataclass(frozen=True, slots=True)
class CallResumed:
    at: float
    call_id: str
    held_seconds: float


@dataclass(frozen=True, slots=True)
class CallTransferred:
    at: float
    call_id: str
    kind: TransferKind
    to: str | None
    by_agent: str | None


@dataclass(frozen=True, slots=True)
class ConsultationStarted:
    """An agent put the caller on hold to call someone first (an attended transfer begins)."""

    at: float
    call_id: str
    agent: str | None  # the transferring agent
    uniqueid: str      # the transferring agent's leg
    to: str | None     # what was dialled: an agent endpoint or a number


@dataclass(frozen=True, slots=True)
class ConsultationAnswered:
    """The one consulted answered: the agent talks to them while the caller holds."""

    at: float
    call_id: str
    agent: str | None
    uniqueid: str
    target_agent: str | None  # the consulted agent, if an agent was consulted
    target_uniqueid: str


@dataclass(frozen=True, slots=True)
class ConsultationEnded:
    at: float
    call_id: str
    agent: str | None
    uniqueid: str
    outcome: ConsultationOutcome
    target_agent: str | None
    target_uniqueid: str | None


@dataclass(frozen=True, slots=True)
class RecordingStarted:
    at: float
    call_id: str
    uniqueid: str
    file: str | None


@dataclass(frozen=True, slots=True)
class RecordingStopped:
    at: float
    call_id: str
    uniqueid: str
    file: str | None


@dataclass(frozen=True, slots=True)
class SpyStarted:
    """A supervisor's leg listens to (or whispers to, or barges into) an agent's call."""

    at: float
    call_id: str
    spy_uniqueid: str
    supervisor: str | None
    agent: str | None


@dataclass(frozen=True, slots=True)
class SpyStopped:
    at: float
    call_id: str
    spy_uniqueid: str


@dataclass(frozen=True, slots=True)
class CallAbandoned:
    """The caller hung up while waiting (never connected to an agent)."""

    at: float
    call_id: str
    queue: str | None
    wait_seconds: float


@dataclass(frozen=True, slots=True)
class CallEnded:
    at: float
    call_id: str
    record: CallRecord


@dataclass(frozen=True, slots=True)
class OriginateFailed:
    """An originated leg never became a call (busy, no answer, unknown endpoint)."""

    at: float
    action_id: str | None
    dial_string: str
    reason: int  # Asterisk's OriginateResponse Reason: 3 no answer, 0 anything else (busy included)
    call_id: str | None


@dataclass(frozen=True, slots=True)
class PbxBooted:
    at: float


@dataclass(frozen=True, slots=True)
class PbxShutdown:
    at: float
    restarting: bool


DomainEvent = (
    CallStarted
    | DigitsReceived
    | CallQueued
    | CallOffered
    | OfferUnanswered
    | CallConnected
    | AgentDisconnected
    | CallHeld
    | CallResumed
    | CallTransferred
    | ConsultationStarted
    | ConsultationAnswered
    | ConsultationEnded
    | RecordingStarted
    | RecordingStopped
    | SpyStarted
    | SpyStopped
    | CallAbandoned
    | CallEnded
    | OriginateFailed
    | PbxBooted
    | PbxShutdown
)

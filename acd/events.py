"""What the ACD decides and reports: frozen dataclasses, past-tense names, `at` on every one.

Decisions the adapter carries out on Asterisk: `CallOffered` (ring the agent, join the caller on
answer), `CallbackDialled` (the agent is reserved: dial the customer), `CallExited` (send the caller to
voicemail / a message / the callback capture), `CallAbandoned` with an agent (stop that agent's ring),
`OfferWithdrawn` (stop the agent's ring, or the callback's dialling: the caller is back in its queue).
Everything else is a report for the dashboards, the queue log and the productivity reports.

A call's routing ends in exactly one of: `CallAnswered`, `CallAbandoned`, `CallExited`, or a final
`CallbackFailed` (`retry_at is None`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from acd.model import AgentState, ExitAction, ExitReason


@dataclass(frozen=True, slots=True)
class AgentStateChanged:
    """Every agent state change, with the time spent in the previous state (productivity reports)."""

    at: float
    agent_id: str
    state: AgentState
    previous: AgentState
    previous_since: float
    reason: str | None = None   # NOT_READY: the reason code
    call_id: str | None = None  # RESERVED, ON_CALL, WRAP_UP: the call
    until: float | None = None  # WRAP_UP: when it ends unless ended early or extended


@dataclass(frozen=True, slots=True)
class AgentPauseDeferred:
    """The agent asked for a pause while busy with a call: it starts when the call's work is done."""

    at: float
    agent_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class AgentLogoutDeferred:
    """The agent asked to log out while on a call: it is logged out when the call ends."""

    at: float
    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentChanged:
    """A supervisor changed a logged-in agent's skills, levels or queues; they apply at once."""

    at: float
    agent_id: str
    skills: Mapping[str, int]
    queues: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WrapUpExtended:
    at: float
    agent_id: str
    until: float


@dataclass(frozen=True, slots=True)
class CallQueued:
    at: float
    call_id: str
    queue: str
    priority: int
    position: int  # 1 = next to be served in this queue


@dataclass(frozen=True, slots=True)
class CallOffered:
    """Decision: ring this agent for this caller (the screen-pop moment)."""

    at: float
    call_id: str
    agent_id: str
    queue: str
    ring_until: float


@dataclass(frozen=True, slots=True)
class CallbackRequested:
    """The caller leaves the line and keeps its place; the center will dial `number`."""

    at: float
    call_id: str
    queue: str
    number: str


@dataclass(frozen=True, slots=True)
class CallbackDialled:
    """Decision: the agent is reserved; dial the customer and join the agent on answer."""

    at: float
    call_id: str
    agent_id: str
    queue: str
    number: str
    attempt: int
    ring_until: float


@dataclass(frozen=True, slots=True)
class CallbackFailed:
    """The customer did not answer the callback. `retry_at` None: no attempt left, routing ends here."""

    at: float
    call_id: str
    agent_id: str
    queue: str
    attempt: int
    retry_at: float | None


@dataclass(frozen=True, slots=True)
class RingNoAnswer:
    """The agent did not answer; the caller is back in the queue with its place and priority."""

    at: float
    call_id: str
    agent_id: str
    queue: str
    misses: int  # consecutive misses of this agent


@dataclass(frozen=True, slots=True)
class OfferWithdrawn:
    """Decision: stop ringing the agent (or dialling the callback): the offer is taken back, here
    because the agent logged out. The caller is back in the queue with its place and priority; it
    is no ring-no-answer (the agent's misses do not count it)."""

    at: float
    call_id: str
    agent_id: str
    queue: str
    reason: str  # "agent_logged_out"


@dataclass(frozen=True, slots=True)
class CallAnswered:
    at: float
    call_id: str
    agent_id: str
    queue: str
    wait_seconds: float  # from the first arrival (overflow and callbacks included)
    callback: bool = False


@dataclass(frozen=True, slots=True)
class CallAbandoned:
    """The caller hung up (or cancelled the callback) before talking to an agent."""

    at: float
    call_id: str
    queue: str
    wait_seconds: float
    agent_id: str | None = None  # the agent whose phone was ringing: stop it


@dataclass(frozen=True, slots=True)
class CallRelaxed:
    """The caller waited long enough to accept agents of relaxation step `stage` (1-based)."""

    at: float
    call_id: str
    queue: str
    stage: int


@dataclass(frozen=True, slots=True)
class CallOverflowed:
    at: float
    call_id: str
    from_queue: str
    to_queue: str
    reason: str  # "timeout" or "no_agents"


@dataclass(frozen=True, slots=True)
class CallExited:
    """Decision: the caller leaves the queue without an agent, to `action`."""

    at: float
    call_id: str
    queue: str
    reason: ExitReason
    action: ExitAction


@dataclass(frozen=True, slots=True)
class InputIgnored:
    """An input that does not fit the current state (unknown id, wrong state). Log it; nothing changed."""

    at: float
    input: str
    subject: str
    reason: str


AcdEvent = (
    AgentStateChanged
    | AgentPauseDeferred
    | AgentLogoutDeferred
    | AgentChanged
    | WrapUpExtended
    | CallQueued
    | CallOffered
    | CallbackRequested
    | CallbackDialled
    | CallbackFailed
    | RingNoAnswer
    | OfferWithdrawn
    | CallAnswered
    | CallAbandoned
    | CallRelaxed
    | CallOverflowed
    | CallExited
    | InputIgnored
)

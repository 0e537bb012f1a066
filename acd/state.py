"""The router's live records of agents and calls. Mutable on purpose and private to `acd/`: the
rest of the product sees the events and the read-only views (`CallView`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from acd.model import AgentConfig, AgentState, Call


class CallPhase(StrEnum):
    WAITING = "waiting"       # in its queue, routable (a callback request waits here too, off the line)
    OFFERED = "offered"       # an agent is reserved: its phone rings, or the callback is being dialled
    DELAYED = "delayed"       # a failed callback waits for its retry time, out of routing, place kept
    CONNECTED = "connected"   # talking to the agent


@dataclass(slots=True, eq=False)
class AgentRecord:
    config: AgentConfig
    state: AgentState
    since: float                      # when the current state began
    reason: str | None = None         # NOT_READY reason code
    call_id: str | None = None
    available_since: float = 0.0      # longest-idle ordering
    wrap_up_until: float | None = None
    misses: int = 0                   # consecutive ring-no-answers
    calls_day: date | None = None     # the day `calls_today` counts
    calls_today: int = 0
    pending_pause: str | None = None  # pause asked while busy with a call
    pending_logout: bool = False      # logout asked while on a call: at the call's end
    listed: bool = False              # in the free lists of its queues
    version: int = 0                  # the current wrap-up timer; older timers are stale


@dataclass(slots=True, eq=False)
class CallRecord:
    call: Call
    seq: int                          # arrival order: the last tie-break
    arrived_at: float                 # first arrival (the caller's place, kept across overflow)
    queue: str
    enqueued_at: float                # entered the current queue (relaxation, overflow, max wait count from here)
    phase: CallPhase = CallPhase.WAITING
    stage: int = 0                    # relaxation steps applied in the current queue
    agent_id: str | None = None
    ring_until: float = 0.0
    callback_number: str | None = None
    callback_attempts: int = 0
    retry_at: float = 0.0
    visited: tuple[str, ...] = ()     # queues entered: stops overflow loops (a tuple: one or two, cheap to make)
    version: int = 0                  # the current call timer; older timers are stale

    @property
    def key(self) -> tuple[int, float, int, str]:
        """Order within a queue: higher priority first, then the longer wait, then arrival order."""
        return (-self.call.priority, self.arrived_at, self.seq, self.call.call_id)


@dataclass(frozen=True, slots=True)
class CallView:
    """A read-only view of a call, for dashboards and tests."""

    call_id: str
    queue: str
    priority: int
    phase: CallPhase
    agent_id: str | None
    arrived_at: float
    stage: int
    callback_number: str | None

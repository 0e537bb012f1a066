"""What the ACD is configured with: skills, queues, agents, calls. Frozen and validated.

A bad value raises `ValueError` naming the field and the value, so that an administrator who typed a
queue in YAML (or the HTTP API) reads exactly what to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from acd.hours import OpeningHours


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RESERVED = "reserved"      # chosen for a call: the agent's phone rings, or a callback is being dialled
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"        # after-call work: notes, result code
    NOT_READY = "not_ready"    # paused, with a reason code


class RoutingPolicy(StrEnum):
    """How a waiting call picks among several free agents of its queue."""

    LONGEST_IDLE = "longest_idle"          # free the longest (since the end of the last call or pause)
    LEAST_CALLS = "least_calls"            # fewest answered calls today, then longest idle
    ROUND_ROBIN = "round_robin"            # offered a call from this queue longest ago (app_queue rrmemory)
    BEST_PROFICIENCY = "best_proficiency"  # highest sum of levels in the queue's skills, then longest idle
    LAST_AGENT = "last_agent"              # the agent who served this customer within N days, else longest idle


class ExitReason(StrEnum):
    CLOSED = "closed"            # outside business hours
    FULL = "full"                # the queue holds max_size callers already
    NO_AGENTS = "no_agents"      # nobody logged in and the queue does not take callers when empty
    MAX_WAIT = "max_wait"        # waited the queue's max wait
    OVERFLOW_LOOP = "overflow_loop"  # overflow led back to a queue this caller already left


class ExitAction(StrEnum):
    """Where the adapter sends a caller who leaves a queue without an agent."""

    VOICEMAIL = "voicemail"
    CALLBACK = "callback"   # on max wait: the caller keeps its place and is called back on its number
    MESSAGE = "message"     # play the queue's message, then hang up


RING_NO_ANSWER = "ring-no-answer"
DEFAULT_PAUSE_REASONS = frozenset({"break", "lunch", "training", RING_NO_ANSWER})


def _fail(field_name: str, value: object, why: str) -> ValueError:
    return ValueError(f"{field_name}={value!r}: {why}")


def _is_name(value: object) -> bool:
    return isinstance(value, str) and value != "" and value == value.strip()


def _check_name(field_name: str, value: object) -> None:
    if not _is_name(value):
        raise _fail(field_name, value, "must be a non-empty name without surrounding spaces")


@dataclass(frozen=True, slots=True)
class SkillRequirement:
    """The agent must have `skill` at `min_level` or above (levels run 1 (novice) .. 100 (expert))."""

    skill: str
    min_level: int = 1

    def __post_init__(self) -> None:
        _check_name("skill", self.skill)
        if isinstance(self.min_level, bool) or not isinstance(self.min_level, int) or not 1 <= self.min_level <= 100:
            raise _fail(f"min_level of skill {self.skill!r}", self.min_level, "must be an integer from 1 to 100")


@dataclass(frozen=True, slots=True)
class RelaxationStep:
    """After `after` seconds in the queue, a caller also accepts agents `lower_by` levels below the
    queue's and the call's minimum (never below level 1: the skill itself stays required), and/or any
    agent with the `add_group` skills (an extra skill group: e.g. billing callers may go to sales)."""

    after: float
    lower_by: int = 0
    add_group: tuple[SkillRequirement, ...] = ()

    def __post_init__(self) -> None:
        if not self.after > 0:
            raise _fail("relaxation.after", self.after, "must be > 0 seconds")
        if self.lower_by < 0:
            raise _fail("relaxation.lower_by", self.lower_by, "must be >= 0")
        if self.lower_by == 0 and not self.add_group:
            raise _fail("relaxation", self, "a step must lower the levels or add a skill group")


@dataclass(frozen=True, slots=True)
class CallbackRule:
    """How a callback (the caller asked to be called back instead of waiting) is dialled and retried."""

    dial_timeout: float = 30.0   # ring time at the customer's phone before the attempt counts as failed
    retry_after: float = 300.0   # a failed attempt is dialled again this much later, keeping its place
    max_attempts: int = 3

    def __post_init__(self) -> None:
        if not self.dial_timeout > 0:
            raise _fail("callback.dial_timeout", self.dial_timeout, "must be > 0 seconds")
        if self.retry_after < 0:
            raise _fail("callback.retry_after", self.retry_after, "must be >= 0 seconds")
        if self.max_attempts < 1:
            raise _fail("callback.max_attempts", self.max_attempts, "must be >= 1")


@dataclass(frozen=True, slots=True)
class QueueConfig:
    name: str
    required: tuple[SkillRequirement, ...] = ()
    priority: int = 0                   # queue weight: an agent in several queues serves the higher first
    policy: RoutingPolicy = RoutingPolicy.LONGEST_IDLE
    wrap_up: float = 0.0                # seconds of after-call work
    ring_timeout: float = 20.0          # ring time at the agent before ring-no-answer
    max_wait: float | None = None       # seconds in this queue before `exit_action`
    max_size: int | None = None         # waiting callers (callbacks included) before new ones are refused
    join_when_empty: bool = True        # take callers while no member agent is logged in (False: when
                                        # the last member logs out, the callers waiting leave too)
    exit_action: ExitAction = ExitAction.VOICEMAIL
    overflow_to: str | None = None
    overflow_after: float | None = None  # seconds in this queue before moving to `overflow_to`
    overflow_when_no_agents: bool = False  # move to `overflow_to` when no member is logged in (on arrival,
                                           # and the callers waiting when the last member logs out)
    relaxation: tuple[RelaxationStep, ...] = ()
    hours: OpeningHours | None = None   # None: always open; at closing the callers waiting leave
    last_agent_days: float = 7.0        # RoutingPolicy.LAST_AGENT: how far back the customer's agent counts
    callback: CallbackRule = field(default_factory=CallbackRule)

    def __post_init__(self) -> None:
        _check_name("queue.name", self.name)
        where = f"queue {self.name!r}"
        skills = [r.skill for r in self.required]
        if len(set(skills)) != len(skills):
            raise _fail(f"{where}.required", skills, "names a skill twice")
        if self.wrap_up < 0:
            raise _fail(f"{where}.wrap_up", self.wrap_up, "must be >= 0 seconds")
        if not self.ring_timeout > 0:
            raise _fail(f"{where}.ring_timeout", self.ring_timeout, "must be > 0 seconds")
        if self.max_wait is not None and not self.max_wait > 0:
            raise _fail(f"{where}.max_wait", self.max_wait, "must be > 0 seconds or None")
        if self.max_size is not None and self.max_size < 1:
            raise _fail(f"{where}.max_size", self.max_size, "must be >= 1 or None")
        if self.overflow_to == self.name:
            raise _fail(f"{where}.overflow_to", self.overflow_to, "a queue cannot overflow to itself")
        if (self.overflow_after is not None or self.overflow_when_no_agents) and self.overflow_to is None:
            raise _fail(f"{where}.overflow_to", None, "overflow_after / overflow_when_no_agents need a target")
        if self.overflow_after is not None and not self.overflow_after > 0:
            raise _fail(f"{where}.overflow_after", self.overflow_after, "must be > 0 seconds or None")
        afters = [step.after for step in self.relaxation]
        if afters != sorted(set(afters)):
            raise _fail(f"{where}.relaxation", afters, "steps must have strictly increasing `after`")
        if not self.last_agent_days > 0:
            raise _fail(f"{where}.last_agent_days", self.last_agent_days, "must be > 0 days")


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """An agent as logged in: skills with levels (1..100) and the queues the agent serves."""

    agent_id: str
    skills: Mapping[str, int]
    queues: tuple[str, ...]

    def __post_init__(self) -> None:
        _check_name("agent_id", self.agent_id)
        for skill, level in self.skills.items():
            _check_name(f"agent {self.agent_id!r} skill", skill)
            if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 100:
                raise _fail(f"agent {self.agent_id!r} skill {skill!r}", level, "must be an integer from 1 to 100")
        if not self.queues or len(set(self.queues)) != len(self.queues):
            raise _fail(f"agent {self.agent_id!r}.queues", self.queues, "must name at least one queue, each once")
        # a private read-only copy: the caller's dict may change, this agent's skills may not
        object.__setattr__(self, "skills", MappingProxyType(dict(self.skills)))


@dataclass(frozen=True, slots=True)
class Call:
    """A caller handed to the ACD by the IVR (the CC_* channel variables)."""

    call_id: str                        # the caller leg's Linkedid
    queue: str
    priority: int = 0                   # higher first: VIP from the customer record or the IVR
    skills: tuple[SkillRequirement, ...] = ()  # needed on top of the queue's (e.g. language)
    customer_id: str | None = None
    number: str | None = None           # calling number (ANI): where a callback goes by default
    preferred_agent: str | None = None  # the IVR's choice: offered the caller when free at its turn

    def __post_init__(self) -> None:
        _check_name("call_id", self.call_id)
        if not _is_name(self.queue):  # the field name is formatted only on failure: a Call is made per arrival
            _check_name(f"call {self.call_id!r}.queue", self.queue)


@dataclass(frozen=True, slots=True)
class AcdSettings:
    queues: tuple[QueueConfig, ...]
    pause_reasons: frozenset[str] = DEFAULT_PAUSE_REASONS
    pause_after_misses: int = 1         # consecutive ring-no-answers before the agent is set not ready
    time_zone: str = "UTC"              # where "today" starts, for RoutingPolicy.LEAST_CALLS

    def __post_init__(self) -> None:
        names = [q.name for q in self.queues]
        if len(set(names)) != len(names):
            raise _fail("queues", names, "a queue name appears twice")
        for queue in self.queues:
            if queue.overflow_to is not None and queue.overflow_to not in names:
                raise _fail(f"queue {queue.name!r}.overflow_to", queue.overflow_to, "is no configured queue")
        if RING_NO_ANSWER not in self.pause_reasons:
            raise _fail("pause_reasons", sorted(self.pause_reasons), f"must include {RING_NO_ANSWER!r}")
        if self.pause_after_misses < 1:
            raise _fail("pause_after_misses", self.pause_after_misses, "must be >= 1")
        OpeningHours.zone(self.time_zone)  # raises ValueError naming an unknown zone


@dataclass(frozen=True, slots=True)
class RestoredAgent:
    """An agent as it was before a restart, from the database (calls come from Asterisk)."""

    agent: AgentConfig
    state: AgentState = AgentState.AVAILABLE  # AVAILABLE, NOT_READY or WRAP_UP; RESERVED / ON_CALL come from calls
    since: float = 0.0
    reason: str | None = None
    wrap_up_until: float | None = None  # WRAP_UP: when the after-call work ends (the rest is kept)


@dataclass(frozen=True, slots=True)
class RestoredCall:
    """A caller found in Asterisk after a restart (CTI resync of the CC_* channel variables)."""

    call: Call
    arrived_at: float                   # original arrival: keeps the caller's place
    enqueued_at: float | None = None    # entered the current queue (None: arrived_at)
    agent_id: str | None = None         # ringing at (answered False) or talking to (answered True) this agent
    answered: bool = False
    callback_number: str | None = None  # the caller had asked for a callback

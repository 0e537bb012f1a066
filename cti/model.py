"""The tracker's live state: channels by Uniqueid, bridges, calls by Linkedid.

Mutable on purpose and private to the tracker: nothing outside `cti/` sees these objects; the rest of
the product sees domain events and `CallRecord`s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cti import contract
from cti.bridges import local_pair_key
from cti.records import CallOutcome, CallRecord, Direction, LegRecord, LegRole, LiveCall, Transfer


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """Which dialplan contexts say what a channel is.

    A channel's `Newchannel` event carries the context of the endpoint that created it: the trunk's
    context for an incoming call, the agent endpoint's context for a leg dialled to an agent.
    Defaults cover our own contract and the lab PBX that recorded the reference traces.
    """

    inbound_contexts: frozenset[str] = frozenset({"inbound", contract.INBOUND_CONTEXT})
    agent_contexts: frozenset[str] = frozenset({"agents", contract.AGENT_CONTEXT})
    waiting_contexts: frozenset[str] = frozenset({contract.WAIT_CONTEXT})
    # contexts a caller leg runs in after it entered (used to recognise a caller met mid-call)
    caller_contexts: frozenset[str] = frozenset(
        {"inbound", contract.INBOUND_CONTEXT, contract.WAIT_CONTEXT, contract.CONNECT_CONTEXT}
    )


Location = tuple[str, str]  # (context, exten)


@dataclass(frozen=True, slots=True)
class ChannelBlock:
    """The channel fields Asterisk repeats in every channel event (optionally `Dest`-prefixed)."""

    uniqueid: str
    name: str
    linkedid: str
    context: str
    exten: str
    state: str
    caller_num: str
    caller_name: str


@dataclass(slots=True)
class Channel:
    uniqueid: str
    name: str
    linkedid: str
    call_id: str
    role: LegRole
    created_at: float
    first_seen: float = 0.0           # when the tracker learned of it (for resync races)
    partial: bool = False
    agent: str | None = None          # agent name when role is AGENT
    endpoint: str | None = None
    caller_num: str | None = None
    caller_name: str | None = None
    location: Location = ("", "")
    answered_at: float | None = None
    bridge_id: str | None = None
    bridge_entry: Location | None = None
    redirected_in_bridge: bool = False
    moh: bool = False
    dial_status: str | None = None
    offered_at: float | None = None   # agent legs: when the ring for this call began
    offer_closed: bool = False
    mixmonitor_file: str | None = None
    hangup_requested: bool = False
    hangup_cause: int | None = None
    ended_at: float | None = None

    @property
    def is_local(self) -> bool:
        return self.name.startswith("Local/")

    @property
    def local_pair_key(self) -> str | None:
        return local_pair_key(self.name)

    def leg_record(self, ended_at: float) -> LegRecord:
        return LegRecord(
            uniqueid=self.uniqueid,
            channel=self.name,
            role=self.role,
            endpoint=self.endpoint,
            created_at=self.created_at,
            answered_at=self.answered_at,
            ended_at=self.ended_at if self.ended_at is not None else ended_at,
            hangup_cause=self.hangup_cause,
            dial_status=self.dial_status,
        )


@dataclass(slots=True)
class Call:
    call_id: str
    started_at: float
    partial: bool = False
    direction: Direction = Direction.INBOUND
    announced: bool = False            # CallStarted emitted
    caller_leg: str | None = None      # Uniqueid of the inbound trunk leg
    anchor_agent_leg: str | None = None  # for calls that began on an agent leg
    live: set[str] = field(default_factory=set)
    ended_legs: list[LegRecord] = field(default_factory=list)
    caller: str | None = None
    caller_name: str | None = None
    dnis: str | None = None
    queue: str | None = None
    priority: int = 0                  # from the IVR (CC_PRIORITY): VIPs higher
    skills: str | None = None          # from the IVR (CC_SKILLS): "support:1,billing:40"
    customer: str | None = None        # from the IVR (CC_CUSTOMER): the identified customer's reference
    preferred_agent: str | None = None  # from the IVR (CC_PREFERRED_AGENT): the agent to offer first
    ivr_path: str | None = None        # from the IVR (CC_IVR_PATH): the nodes the caller went through
    waiting: bool = False              # in a queue or the waiting context right now
    in_queue: bool = False             # queued and not connected since
    queue_source_contract: bool = False  # waiting in our waiting context (not in app_queue)
    agents_rung: list[str] = field(default_factory=list)
    connected: dict[str, str] = field(default_factory=dict)  # agent leg uniqueid -> agent
    first_connected_at: float | None = None
    last_agent: str | None = None
    held_since: float | None = None
    transfers: list[Transfer] = field(default_factory=list)
    recordings: list[str] = field(default_factory=list)
    talk_seconds: float = 0.0
    hold_seconds: float = 0.0
    accounted_until: float = 0.0
    answered: bool = False             # the anchor leg was answered (inbound: by the PBX)
    hangup_cause: int | None = None
    hangup_cause_text: str | None = None

    @property
    def reportable(self) -> bool:
        """A call of the call center: an inbound trunk call, or one that began on an agent leg."""
        return self.caller_leg is not None or self.anchor_agent_leg is not None

    @property
    def anchor(self) -> str | None:
        return self.caller_leg if self.caller_leg is not None else self.anchor_agent_leg

    def advance(self, now: float) -> None:
        """Account the time since the last change to talk or hold (state is piecewise constant)."""
        span = max(0.0, now - self.accounted_until)
        if self.held_since is not None:
            self.hold_seconds += span
        elif self.connected:
            self.talk_seconds += span
        self.accounted_until = max(self.accounted_until, now)

    def outcome(self) -> CallOutcome:
        if self.first_connected_at is not None:
            moved_on = any(t.at >= self.first_connected_at for t in self.transfers)
            return CallOutcome.TRANSFERRED if moved_on else CallOutcome.ANSWERED
        if self.transfers:  # met mid-call: only a connected call can be transferred
            return CallOutcome.TRANSFERRED
        if not self.answered or self.caller_leg is None:
            # An inbound leg the PBX never answered, or an agent-side call that reached nobody.
            return CallOutcome.FAILED
        return CallOutcome.ABANDONED

    def live_view(self) -> LiveCall:
        if self.held_since is not None:
            state = "held"
        elif self.connected:
            state = "talking"
        elif self.waiting:
            state = "waiting"
        else:
            state = "other"
        return LiveCall(
            call_id=self.call_id, direction=self.direction, caller=self.caller, dnis=self.dnis,
            queue=self.queue, state=state, agents=tuple(sorted(set(self.connected.values()))),
            started_at=self.started_at, partial=self.partial, priority=self.priority, skills=self.skills,
            customer=self.customer, preferred_agent=self.preferred_agent,
        )

    def to_record(self, now: float) -> CallRecord:
        """The finished call, once its last leg has hung up at `now`."""
        self.advance(now)
        connected_at = self.first_connected_at
        return CallRecord(
            call_id=self.call_id,
            direction=self.direction,
            caller=self.caller,
            dnis=self.dnis,
            queue=self.queue,
            agent=self.last_agent,
            agents_rung=tuple(self.agents_rung),
            outcome=self.outcome(),
            started_at=self.started_at,
            answered_at=connected_at,
            ended_at=now,
            wait_seconds=(connected_at if connected_at is not None else now) - self.started_at,
            talk_seconds=self.talk_seconds,
            hold_seconds=self.hold_seconds,
            transfers=tuple(self.transfers),
            recordings=tuple(self.recordings),
            hangup_cause=self.hangup_cause,
            hangup_cause_text=self.hangup_cause_text,
            partial=self.partial,
            legs=tuple(sorted(self.ended_legs, key=lambda leg: leg.created_at)),
        )


def endpoint_of(channel_name: str) -> str | None:
    """`PJSIP/agent1001-00000012` -> `agent1001`;
    `Local/5001@local-agents-00000002;1` -> `5001@local-agents`."""
    tech, sep, rest = channel_name.partition("/")
    if not sep or not rest:
        return None
    if tech == "Local":
        rest = rest.rsplit(";", 1)[0]
    base, dash, _ = rest.rpartition("-")
    return base if dash and base else rest


def agent_of_interface(interface: str) -> str:
    """app_queue member interface -> agent name: `PJSIP/agent1001` -> `agent1001`,
    `Local/5001@local-agents/n` -> `5001@local-agents`."""
    tech, _, rest = interface.partition("/")
    if tech == "Local":
        return rest.split("/", 1)[0]
    return rest or interface

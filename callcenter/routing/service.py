"""The ACD at work: the tracker's domain events in, the router's decisions carried out on Asterisk.

`acd.Router` is pure; this adapter feeds it (tracker events, agents' state requests, its own timers)
and carries out what it decides, per the Asterisk contract (ARCHITECTURE.md): a caller offered to an
agent is redirected into the connect context, which rings the agent for the ring timeout and brings
the caller back to waiting on no answer; the tracker then reports the answer or the miss, which go
back into the router.

Every event the router emits is published (`publish`) for dashboards, the queue log and the agent
state history; the router never waits for them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from acd.events import (
    AcdEvent,
    CallAbandoned,
    CallbackDialled,
    CallExited,
    CallOffered,
    CallOverflowed,
    InputIgnored,
    OfferWithdrawn,
)
from acd.model import AgentConfig, AgentState, Call, RestoredAgent, RestoredCall, SkillRequirement
from acd.router import Router
from acd.state import CallPhase
from callcenter.routing.config import RING_BACKSTOP, AcdConfig
from cti import contract
from cti.events import (
    AgentDisconnected,
    CallConnected,
    CallEnded,
    CallQueued,
    CallStarted,
    ConsultationEnded,
    ConsultationOutcome,
    ConsultationStarted,
    DomainEvent,
    OfferUnanswered,
    PbxShutdown,
)
from cti.events import (
    CallAbandoned as TrackerCallAbandoned,
)
from cti.events import (
    CallOffered as TrackerCallOffered,
)
from cti.model import endpoint_of
from cti.records import CallOutcome, Direction, LiveCall

log = logging.getLogger(__name__)

Send = Callable[[Mapping[str, str]], Awaitable[Mapping[str, Any]]]


ANNOUNCE_SCAN = 5.0  # clock seconds between two looks for waiting callers due an announcement
ANNOUNCE_MIN_MINUTES = 2  # a shorter expected wait is not announced ("1 minutes", or a promise too close)


def parse_skills(text: str | None) -> tuple[SkillRequirement, ...] | None:
    """The IVR's CC_SKILLS, `support:1,billing:40` (a skill without a level needs level 1); None if broken."""
    if not text:
        return ()
    wanted = []
    for part in text.split(","):
        skill, _, level = part.strip().partition(":")
        if not skill or (level and not level.isdigit()):
            return None
        try:
            wanted.append(SkillRequirement(skill, int(level) if level else 1))
        except ValueError:
            return None
    return tuple(wanted)


@dataclass
class RoutingStats:
    decisions: int = 0
    offers: int = 0
    actions_failed: int = 0
    ignored: int = 0
    unknown_queue: int = 0
    announcements: int = 0  # waiting callers told their place / expected wait
    last_failure: str | None = None


@dataclass
class _Caller:
    channel: str
    number: str | None
    queue: str | None = None
    # the actions for one caller go out in decision order (a withdrawn offer's Redirect back to waiting
    # before the next offer's Redirect to the connect context)
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class RoutingService:
    config: AcdConfig
    send: Send  # an AMI action, answered (AmiConnection.send)
    clock: Callable[[], float]  # the tracker's clock (PBX time in a sped-up demo)
    publish: Callable[[list[AcdEvent]], None] = lambda events: None
    speed: float = 1.0  # clock seconds per real second
    router: Router = field(init=False)
    stats: RoutingStats = field(default_factory=RoutingStats)

    def __post_init__(self) -> None:
        self.router = Router(self.config.settings)
        self._callers: dict[str, _Caller] = {}
        self._wake = asyncio.Event()
        self._restored = False
        self._pending: set[asyncio.Task[None]] = set()
        # calls the center dials for a callback: their call id (the originated agent leg's ChannelId) ->
        # the router's call, and whether the customer answered
        self._callbacks: dict[str, str] = {}
        self._callbacks_answered: set[str] = set()
        self._announced: dict[str, float] = {}  # waiting caller -> when it was last told its place (clock)
        # callbacks the IVR took (call -> queue asked for, number): they join the queue once the call is
        # over, so that the number is free when it is dialled
        self._ivr_callbacks: dict[str, tuple[str | None, str]] = {}
        # agents on a call the ACD did not route (a transfer straight to them, a call they dialled), or consulted
        # on a call (attended transfer): agent -> call
        self._direct: dict[str, str] = {}
        # attended transfers in progress: call -> the agent consulting (still on the call while the caller holds)
        self._consulting: dict[str, str] = {}
        # the queues an agent chose to serve, among those assigned to them (none chosen: all of them)
        self._chosen: dict[str, frozenset[str]] = {}

    # ---- agents --------------------------------------------------------------------------------------
    def log_in(self, agent_id: str, *, reason: str | None = None) -> list[AcdEvent]:
        if agent_id not in self.config.agents:
            return [InputIgnored(self.clock(), "log_in", agent_id, "no such agent in the ACD configuration")]
        return self._apply(self.router.log_in(self._serving_config(agent_id), self.clock(), reason=reason))

    def serving(self, agent_id: str) -> tuple[str, ...]:
        """The queues the agent takes callers from: those assigned to them that they chose (all if none)."""
        assigned = self.config.agents[agent_id].queues
        chosen = self._chosen.get(agent_id)
        return tuple(q for q in assigned if chosen is None or q in chosen) or assigned

    def choose_queues(self, agent_id: str, queues: list[str]) -> list[AcdEvent]:
        """The agent picks which of their assigned queues to serve now (at least one); live if logged in."""
        now = self.clock()
        agent = self.config.agents.get(agent_id)
        if agent is None:
            return [InputIgnored(now, "choose_queues", agent_id, "no such agent in the ACD configuration")]
        foreign = sorted(set(queues) - set(agent.queues))
        if foreign or not queues:
            reason = f"{foreign} are not assigned to {agent_id}" if foreign else "choose at least one queue"
            return [InputIgnored(now, "choose_queues", agent_id, reason)]
        self._chosen[agent_id] = frozenset(queues)
        if self.router.agent_state(agent_id) == AgentState.LOGGED_OUT:
            return []  # the next login uses it
        return self._apply(self.router.change_agent(self._serving_config(agent_id), now))

    def _serving_config(self, agent_id: str) -> AgentConfig:
        agent = self.config.agents[agent_id]
        return AgentConfig(agent_id, dict(agent.skills), self.serving(agent_id))

    def log_out(self, agent_id: str) -> list[AcdEvent]:
        return self._apply(self.router.log_out(agent_id, self.clock()))

    def pause(self, agent_id: str, reason: str) -> list[AcdEvent]:
        return self._apply(self.router.pause(agent_id, reason, self.clock()))

    def resume(self, agent_id: str) -> list[AcdEvent]:
        return self._apply(self.router.resume(agent_id, self.clock()))

    def end_wrap_up(self, agent_id: str) -> list[AcdEvent]:
        return self._apply(self.router.end_wrap_up(agent_id, self.clock()))

    def extend_wrap_up(self, agent_id: str, seconds: float) -> list[AcdEvent]:
        return self._apply(self.router.extend_wrap_up(agent_id, seconds, self.clock()))

    def change_agent(self, agent: AgentConfig) -> list[AcdEvent]:
        """A supervisor's live change of skills or queues (kept in memory until the next start)."""
        unknown = [q for q in agent.queues if q not in self.config.queue_names]
        if unknown:
            return [InputIgnored(self.clock(), "change_agent", agent.agent_id, f"unknown queues {unknown}")]
        self.config.agents[agent.agent_id] = agent  # the assignment; the agent's choice is kept within it
        if self.router.agent_state(agent.agent_id) == AgentState.LOGGED_OUT:
            return []  # the next login uses it
        return self._apply(self.router.change_agent(self._serving_config(agent.agent_id), self.clock()))

    def agent_states(self) -> dict[str, AgentState]:
        return {agent_id: self.router.agent_state(agent_id) for agent_id in self.config.agents}

    # ---- the tracker's events (a bus subscriber) -----------------------------------------------------
    async def __call__(self, event: DomainEvent) -> None:
        self.handle(event)

    def handle(self, event: DomainEvent) -> list[AcdEvent]:
        now = self.clock()
        call_id = getattr(event, "call_id", None)
        if call_id in self._callbacks:
            return self._callback_event(event, self._callbacks[call_id], now)
        if isinstance(event, CallEnded) and event.record.call_id in self._callbacks:
            return self._callback_event(event, self._callbacks[event.record.call_id], now)
        if isinstance(event, CallStarted):
            self._callers[event.call_id] = _Caller(event.channel, event.caller)
            agent = endpoint_of(event.channel)
            if self._restored and event.direction is Direction.OUTBOUND and agent in self.config.agents:
                return self._direct_started(agent, event.call_id, now)  # the agent dialled out
            return []
        if not self._restored:
            # until the first resync has been taken in whole (`restore`), the router stays empty: the
            # resync's own events describe calls that restore() brings back with their original times
            return []
        if isinstance(event, CallQueued):
            return self._apply(self._arrived(event, now))
        if isinstance(event, TrackerCallOffered):
            if not self._offered_to(event.call_id, event.agent) and event.agent in self.config.agents:
                return self._direct_started(event.agent, event.call_id, now)  # e.g. a transfer to the agent
            return []
        if isinstance(event, OfferUnanswered):
            if self._direct.get(event.agent) == event.call_id:
                return self._direct_ended(event.agent, now)
            # only the ring the router is waiting on: a ring it already took back (an agent who logged
            # out) or timed out may end after the caller was offered to someone else
            if not self._offered_to(event.call_id, event.agent):
                return []
            if event.dial_status == "CANCEL":
                # the Dial was given up from the caller's side (a ring that times out ends NOANSWER first):
                # the caller hung up, and its hangup follows, or its channel was moved elsewhere. Not the
                # agent's miss; should nothing follow, the router's own ring deadline takes the offer back
                return []
            return self._apply(self.router.offer_unanswered(event.call_id, now))
        if isinstance(event, CallConnected):
            if not self._offered_to(event.call_id, event.agent):
                log.info("call %s connected to %s, who was not offered it: left to the tracker", event.call_id,
                         event.agent)
                return []
            return self._apply(self.router.call_connected(event.call_id, now))
        if isinstance(event, ConsultationStarted):
            if event.agent is not None:
                self._consulting[event.call_id] = event.agent
            return []
        if isinstance(event, ConsultationEnded):
            return self._consultation_ended(event, now)
        if isinstance(event, AgentDisconnected):
            if self._consulting.get(event.call_id) == event.agent:
                return []  # left the caller (on hold) to consult someone: still on the call
            return self._agent_done(event.agent, event.call_id, now)
        if isinstance(event, TrackerCallAbandoned):
            return self._apply(self._gone(event.call_id, now))
        if isinstance(event, CallEnded):
            out = self._gone(event.record.call_id, now)
            caller = self._callers.pop(event.record.call_id, None)
            self._announced.pop(event.record.call_id, None)
            asked = self._ivr_callbacks.pop(event.record.call_id, None)
            if asked is not None and event.record.outcome is CallOutcome.ABANDONED:  # no agent spoke to it
                out += self._ivr_callback(event.record.call_id, *asked, caller, now)
            for agent in [a for a, c in self._direct.items() if c == event.record.call_id]:
                out += self._direct_ended(agent, now)
            self._consulting.pop(event.record.call_id, None)
            return self._apply(out)
        if isinstance(event, PbxShutdown):
            ended: list[AcdEvent] = []
            for call_id in list(self._callers):
                ended += self._gone(call_id, now)
            self._callers.clear()
            self._announced.clear()
            self._consulting.clear()
            for agent in list(self._direct):
                ended += self._direct_ended(agent, now)
            return self._apply(ended)
        return []

    def _agent_done(self, agent: str, call_id: str, now: float) -> list[AcdEvent]:
        """The agent's conversation on the call is over: the end of a direct call, or of a routed one."""
        if self._direct.get(agent) == call_id:
            return self._direct_ended(agent, now)
        return self._apply(self.router.call_ended(call_id, now))

    def _consultation_ended(self, event: ConsultationEnded, now: float) -> list[AcdEvent]:
        """Transferred: the agent consulted has the call now (the ACD's call is handed over, with the queue's
        wrap-up at its end), the transferring agent's conversation is over. Otherwise the agent consulted is
        free again; the transferring agent has the caller back, or (ended) is done too."""
        self._consulting.pop(event.call_id, None)
        target, call_id = event.target_agent, event.call_id
        target_on_it = target is not None and self._direct.get(target) == call_id
        out: list[AcdEvent] = []
        if event.outcome is ConsultationOutcome.TRANSFERRED:
            view = self.router.call(call_id)
            if target is not None and target_on_it and view is not None and view.agent_id == event.agent:
                del self._direct[target]
                return self._apply(self.router.call_handed_over(call_id, target, now))
            # a call the transferring agent had directly, or a number (or someone not in the ACD) now has it
            return self._agent_done(event.agent, call_id, now) if event.agent is not None else []
        if target is not None and target_on_it:
            out += self._direct_ended(target, now)
        if event.outcome is ConsultationOutcome.ENDED and event.agent is not None:
            out += self._agent_done(event.agent, call_id, now)
        return out

    def _direct_started(self, agent: str, call_id: str, now: float) -> list[AcdEvent]:
        """A call the ACD did not route reached the agent's phone: busy with it until it ends."""
        out = self._apply(self.router.direct_call_started(agent, call_id, now))
        if self.router.agent_call(agent) == call_id:
            self._direct[agent] = call_id
            log.info("agent %s is on call %s, which the ACD did not route: offered nobody until it ends",
                     agent, call_id)
        return out

    def _direct_ended(self, agent: str, now: float) -> list[AcdEvent]:
        call_id = self._direct.pop(agent)
        return self._apply(self.router.direct_call_ended(agent, call_id, now))

    def _arrived(self, queued: CallQueued, now: float) -> list[AcdEvent]:
        call_id, queue = queued.call_id, queued.queue
        caller = self._callers.get(call_id)
        if caller is None:
            return [InputIgnored(now, "call_arrived", call_id, "queued before it was seen starting")]
        if self.router.call(call_id) is not None:
            return []  # back in the waiting room after a miss: the router already kept its place
        name = queue if queue in self.config.queue_names else None
        if name is None:
            self.stats.unknown_queue += 1
            log.warning("call %s asks for queue %r, which is not configured: it waits in %r", call_id, queue,
                        self.config.default_queue)
            name = self.config.default_queue
        caller.queue = name
        skills = parse_skills(queued.skills)
        if skills is None:
            log.warning("call %s: CC_SKILLS %r is not skill:level,...; routed on the queue's skills", call_id,
                        queued.skills)
        try:
            call = Call(call_id, name, priority=queued.priority, skills=skills or (),
                        customer_id=queued.customer, number=caller.number, preferred_agent=queued.preferred_agent)
        except ValueError as exc:  # the IVR's values broke the core's rules: route on the queue alone
            log.warning("call %s: %s; routed on the queue alone", call_id, exc)
            call = Call(call_id, name, number=caller.number)
        return self.router.call_arrived(call, now)

    def _offered_to(self, call_id: str, agent: str) -> bool:
        view = self.router.call(call_id)
        return view is not None and view.phase == CallPhase.OFFERED and view.agent_id == agent

    def _gone(self, call_id: str, now: float) -> list[AcdEvent]:
        view = self.router.call(call_id)
        if view is None:
            return []
        if view.callback_number is not None:
            return []  # the caller asked to be called back and left the line: it keeps its place
        if view.phase == CallPhase.CONNECTED:
            return self.router.call_ended(call_id, now)
        return self.router.call_abandoned(call_id, now)

    # ---- restart recovery ----------------------------------------------------------------------------
    def restore(self, live: list[LiveCall], now: float) -> list[AcdEvent]:
        """After the first resync: callers already waiting keep their place, agents on calls stay busy.

        The auto-login agents are logged in first, as they were before the restart."""
        if self._restored:
            return []
        self._restored = True
        calls = []
        for call in live:
            caller = self._callers.get(call.call_id)
            if caller is None or call.state not in ("waiting", "talking", "held"):
                continue
            queue = call.queue if call.queue in self.config.queue_names else self.config.default_queue
            caller.queue = queue
            agent = next((a for a in call.agents if a in self.config.agents), None)
            calls.append(RestoredCall(self._restored_call(call, queue, caller.number), call.started_at,
                                      agent_id=agent if call.state != "waiting" else None,
                                      answered=call.state != "waiting" and agent is not None))
        agents = [RestoredAgent(self.config.agents[a], since=now) for a in self.config.auto_login]
        return self._apply(self.router.restore(agents, calls, now))

    @staticmethod
    def _restored_call(call: LiveCall, queue: str, number: str | None) -> Call:
        """The caller as the IVR had left it: priority, extra skills, customer and preferred agent come back."""
        skills = parse_skills(call.skills) or ()
        try:
            return Call(call.call_id, queue, priority=call.priority, skills=skills, customer_id=call.customer,
                        number=number, preferred_agent=call.preferred_agent)
        except ValueError:
            return Call(call.call_id, queue, number=number)

    # ---- decisions -----------------------------------------------------------------------------------
    def _apply(self, out: list[AcdEvent]) -> list[AcdEvent]:
        for event in out:
            if isinstance(event, InputIgnored):
                self.stats.ignored += 1
                log.info("ACD ignored %s for %s: %s", event.input, event.subject, event.reason)
            elif isinstance(event, CallOffered):
                self.stats.offers += 1
                self._carry_out(self._offer(event))
            elif isinstance(event, CallExited):
                self._carry_out(self._exit(event))
            elif isinstance(event, OfferWithdrawn):
                self._carry_out(self._withdraw(event))
            elif isinstance(event, CallbackDialled):
                self._carry_out(self._dial_callback(event))
            elif isinstance(event, CallOverflowed):
                self._carry_out(self._set_queue(event.call_id, event.to_queue))
            elif isinstance(event, CallAbandoned) and event.agent_id is not None:
                pass  # Dial() in the connect context stops ringing the agent when the caller hangs up
        self.stats.decisions += len(out)
        if out:
            self.publish(out)
            self._wake.set()
        return out

    def _carry_out(self, action: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(action)
        self._pending.add(task)
        task.add_done_callback(self._done)

    async def drain(self) -> None:
        """Until every decision taken so far has been carried out (its AMI actions answered)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.stats.actions_failed += 1
            log.error("ACD action failed", exc_info=task.exception())

    async def _offer(self, offer: CallOffered) -> None:
        """Ring the agent: the caller goes to the connect context with the agent's endpoint as extension."""
        caller = self._callers.get(offer.call_id)
        if caller is None:
            return
        ring = max(1, round(offer.ring_until - offer.at - RING_BACKSTOP))
        async with caller.turn:
            await self._action({"Action": "Setvar", "Channel": caller.channel,
                                "Variable": contract.VAR_RING_TIMEOUT, "Value": str(ring)})
            reply = await self._action({"Action": "Redirect", "Channel": caller.channel,
                                        "Context": contract.CONNECT_CONTEXT, "Exten": offer.agent_id,
                                        "Priority": "1"})
        if reply is not None and reply.get("Response") != "Success":
            # the caller is gone (its hangup is on its way to us) or the channel cannot move: not answered
            self._apply(self.router.offer_unanswered(offer.call_id, self.clock()))

    # ---- callbacks ---------------------------------------------------------------------------------
    def request_callback(self, call_id: str, number: str | None = None) -> list[AcdEvent]:
        """A waiting caller asks to be called back (on `number`, else its calling number): it keeps its
        place, leaves the line after hearing so (cc-exit,callback), and is dialled when its turn comes."""
        out = self._apply(self.router.request_callback(call_id, self.clock(), number))
        caller = self._callers.get(call_id)
        if caller is not None and not any(isinstance(e, InputIgnored) for e in out):
            self._carry_out(self._to_exit(caller, contract.EXIT_CALLBACK))
        return out

    def note_ivr_callback(self, call_id: str, queue: str | None, number: str) -> None:
        """The IVR took a callback request on this call: once the call is over (and unless an agent
        spoke to the caller after all), it joins the queue as a callback to `number`."""
        self._ivr_callbacks[call_id] = (queue, number)

    def _ivr_callback(self, call_id: str, queue: str | None, number: str, caller: _Caller | None,
                      now: float) -> list[AcdEvent]:
        name = queue if queue in self.config.queue_names else (caller.queue if caller else None)
        name = name or self.config.default_queue
        log.info("call %s: the callback the IVR took joins queue %s (number %s)", call_id, name, number)
        return self.router.callback_arrived(Call(call_id, name, number=caller.number if caller else None),
                                            number, now)

    async def _set_queue(self, call_id: str, queue: str) -> None:
        """An overflow: CC_QUEUE on the caller names the queue it now waits in, so that the call's record
        and a restarted server (which reads it back) see the queue that served it."""
        caller = self._callers.get(call_id)
        view = self.router.call(call_id)
        if caller is None or (view is not None and view.callback_number is not None):
            return  # gone, or a callback off the line
        caller.queue = queue
        async with caller.turn:
            await self._action({"Action": "Setvar", "Channel": caller.channel, "Variable": contract.VAR_QUEUE,
                                "Value": queue})

    async def _to_exit(self, caller: _Caller, extension: str) -> None:
        async with caller.turn:
            await self._action({"Action": "Redirect", "Channel": caller.channel, "Context": contract.EXIT_CONTEXT,
                                "Exten": extension, "Priority": "1"})

    async def _dial_callback(self, dialled: CallbackDialled) -> None:
        """The agent is reserved: its phone rings first (an Originate into cc-outbound), then the customer's
        number is dialled over the trunk; the tracker reports the outcome on the leg's ChannelId."""
        leg = f"cb-{dialled.call_id}-{dialled.attempt}"
        self._callbacks[leg] = dialled.call_id
        ring_ms = max(1000, round((dialled.ring_until - dialled.at) * 1000))
        reply = await self._action({
            "Action": "Originate", "Channel": f"PJSIP/{dialled.agent_id}", "Context": contract.OUTBOUND_CONTEXT,
            "Exten": dialled.number, "Priority": "1", "Async": "true", "Timeout": str(ring_ms), "ChannelId": leg,
            "CallerID": f'"Callback" <{dialled.number}>', "Variable": f"{contract.CALLBACK_VAR_FOR}={dialled.call_id}"})
        if reply is None or reply.get("Response") != "Success":
            self._callbacks.pop(leg, None)
            self._apply(self.router.callback_failed(dialled.call_id, self.clock()))

    def _callback_event(self, event: DomainEvent, call_id: str, now: float) -> list[AcdEvent]:
        leg = event.record.call_id if isinstance(event, CallEnded) else getattr(event, "call_id", "")
        if isinstance(event, CallConnected):  # the customer answered the callback
            self._callbacks_answered.add(leg)
            return self._apply(self.router.call_connected(call_id, now))
        if isinstance(event, AgentDisconnected):
            return self._apply(self.router.call_ended(call_id, now))
        if isinstance(event, CallEnded):
            self._callbacks.pop(leg, None)
            if leg in self._callbacks_answered:
                self._callbacks_answered.discard(leg)
                return []
            return self._apply(self.router.callback_failed(call_id, now))  # busy, no answer, unreachable
        return []

    async def _withdraw(self, withdrawn: OfferWithdrawn) -> None:
        """Stop ringing the agent: the caller goes back to waiting (its Dial ends, the agent's leg goes)."""
        caller = self._callers.get(withdrawn.call_id)
        if caller is None:
            return
        async with caller.turn:
            await self._action({"Action": "Redirect", "Channel": caller.channel,
                                "Context": contract.WAIT_CONTEXT, "Exten": "s", "Priority": "1"})

    async def _exit(self, exit_: CallExited) -> None:
        """The caller leaves without an agent: to cc-exit,<action>,1 (message, voicemail, callback); the
        message is the queue's `exit_prompt` (closed hours, queue full, ...)."""
        caller = self._callers.get(exit_.call_id)
        if caller is None:
            return
        log.info("call %s leaves queue %s (%s): %s", exit_.call_id, exit_.queue, exit_.reason.value,
                 exit_.action.value)
        prompt = self.config.exit_prompts.get(exit_.queue, "")
        async with caller.turn:
            if prompt:
                await self._action({"Action": "Setvar", "Channel": caller.channel,
                                    "Variable": contract.VAR_EXIT_PROMPT, "Value": prompt})
            await self._action({"Action": "Redirect", "Channel": caller.channel, "Context": contract.EXIT_CONTEXT,
                                "Exten": exit_.action.value, "Priority": "1"})

    async def _action(self, action: Mapping[str, str]) -> Mapping[str, Any] | None:
        try:
            return await self.send(action)
        except Exception as exc:  # AMI down or slow: the resync after reconnect puts things right
            self.stats.actions_failed += 1
            self.stats.last_failure = f"{action.get('Action')}: {exc}"
            log.warning("ACD: %s failed: %s", action.get("Action"), exc)
            return None

    # ---- timers --------------------------------------------------------------------------------------
    async def run(self) -> None:
        """The router's timers: sleep until its next deadline (or an input changed it), then tick."""
        try:
            await asyncio.gather(self._timers(), self._announcements())
        finally:
            for task in list(self._pending):
                task.cancel()

    async def _timers(self) -> None:
        while True:
            deadline = self.router.next_deadline()
            self._wake.clear()
            delay = None if deadline is None else max(deadline - self.clock(), 0.0) / self.speed
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                self._apply(self.router.tick(self.clock()))


    # ---- announcements -------------------------------------------------------------------------------
    async def _announcements(self) -> None:
        """Every few seconds, tell the waiting callers of queues with `announce` whose turn has come."""
        if not self.config.announcements:
            return
        while True:
            await asyncio.sleep(ANNOUNCE_SCAN / self.speed)
            self.announce_due(self.clock())

    def announce_due(self, now: float) -> int:
        """Start the announcement of every waiting caller not told for its queue's `every` seconds (counted
        from its arrival for the first one); returns how many were started."""
        started = 0
        for view in self.router.calls():
            rule = self.config.announcements.get(view.queue)
            if rule is None or view.phase is not CallPhase.WAITING or view.callback_number is not None:
                continue
            caller = self._callers.get(view.call_id)
            if caller is None or now - self._announced.get(view.call_id, view.arrived_at) < rule.every:
                continue
            self._announced[view.call_id] = now
            self._carry_out(self._announce(view.call_id, caller))
            started += 1
        return started

    async def _announce(self, call_id: str, caller: _Caller) -> None:
        """Set CC_POSITION / CC_WAIT_MINUTES on the caller and move it to cc-wait,announce,1. Taken in the
        caller's turn, and only if it still waits then: an offer decided meanwhile goes out after it."""
        async with caller.turn:
            view = self.router.call(call_id)
            if view is None or view.phase is not CallPhase.WAITING or view.callback_number is not None:
                return
            rule = self.config.announcements.get(view.queue)
            if rule is None:  # overflowed to a queue that announces nothing
                return
            position = self.router.position(call_id) if rule.position else None
            wait = self.router.expected_wait(call_id, self.clock()) if rule.expected_wait else None
            minutes = round(wait / 60) if wait is not None else 0
            said = {contract.VAR_POSITION: str(position) if position else "",
                    contract.VAR_WAIT_MINUTES: str(minutes) if minutes >= ANNOUNCE_MIN_MINUTES else ""}
            if not any(said.values()):
                return
            for name, value in said.items():
                await self._action({"Action": "Setvar", "Channel": caller.channel, "Variable": name, "Value": value})
            await self._action({"Action": "Redirect", "Channel": caller.channel, "Context": contract.WAIT_CONTEXT,
                                "Exten": contract.WAIT_ANNOUNCE_EXTEN, "Priority": "1"})
            self.stats.announcements += 1

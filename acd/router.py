"""The ACD router: inputs in (agent and call events, the clock), decisions and events out.

Pure: no I/O, no clock; `now` (epoch seconds) comes with every input and every output carries it.
Each input method returns the list of events it caused, in order. Timers are the caller's: sleep until
`next_deadline()`, then call `tick(now)`.

Deterministic rules (same inputs in the same order give the same outputs):

* A waiting caller and several free agents: the queue's `RoutingPolicy` (see `acd.policy`), ties by
  agent id. With `LAST_AGENT` the customer's last agent within `last_agent_days` goes first when free
  and skilled.
* A freed agent and several waiting callers, in all the queues it serves: the caller with the smallest
  `(-queue priority, -call priority, arrival time, arrival sequence)`. Queue priority is a weight
  between queues (as app_queue's); inside a queue, VIPs first, then the longest wait since the first
  arrival (an overflowed caller keeps its original arrival time).
* A ringing agent who does not answer: the caller goes back with its key (place and priority kept) and
  is routed before the agent is free again, so another free agent is tried first.
* Timers due at the same time run in arming order; for one caller, relaxation before overflow before
  max wait. Events from `tick` carry the tick's `now`.
* A queue's rules for arrivals hold for the callers already waiting: when its last member logs out
  (or is moved out by a supervisor), `overflow_when_no_agents` / `join_when_empty=False` move them out
  in service order; when its opening hours end (a timer, see `next_deadline`), they leave with reason
  CLOSED. Callbacks wait off the line and stay. A caller whose offer ends without a call (no answer,
  withdrawn) meets the same rules on its way back.

* An attended transfer: the agent consulted is on the call from the moment their phone rings
  (`direct_call_started` with the routed call's id) and offered nobody; `call_handed_over` gives them the
  call (the transferring agent's conversation ends as any other), `direct_call_ended` frees them if no
  transfer happens, and the call's end frees them as well.

After every input, no routable caller waits while a free agent who matches it is available.
"""

from __future__ import annotations

from acd.core import Out
from acd.events import (
    AgentChanged,
    AgentLogoutDeferred,
    AgentPauseDeferred,
    CallAbandoned,
    CallAnswered,
    CallbackRequested,
    InputIgnored,
    WrapUpExtended,
)
from acd.model import (
    AgentConfig,
    AgentState,
    Call,
)
from acd.recovery import RecoveringCore
from acd.skills import Groups
from acd.state import AgentRecord, CallPhase, CallRecord, CallView
from acd.timers import TimerKind


class Router(RecoveringCore):
    """The ACD's public face: one method per input, each returning the events it caused.

    `Router(settings)` starts empty; agents log in, callers arrive. After a restart, `restore` it
    first, then feed the live inputs.
    """

    # ------------------------------------------------------------------ agent inputs
    def log_in(self, agent: AgentConfig, now: float, *, reason: str | None = None) -> Out:
        """The agent logs in, available, or not ready with `reason`."""
        unknown = [q for q in agent.queues if q not in self._queues]
        if agent.agent_id in self._agents:
            return [InputIgnored(now, "log_in", agent.agent_id, "already logged in")]
        if unknown:
            return [InputIgnored(now, "log_in", agent.agent_id, f"unknown queues {unknown}")]
        if reason is not None and reason not in self.settings.pause_reasons:
            return [InputIgnored(now, "log_in", agent.agent_id, f"unknown pause reason {reason!r}")]
        record = AgentRecord(agent, AgentState.LOGGED_OUT, now, pending_pause=reason)
        self._agents[agent.agent_id] = record
        for name in agent.queues:
            self._queues[name].members.add(agent.agent_id)
        out: Out = []
        self._agent_ready(record, now, out)
        return out

    def log_out(self, agent_id: str, now: float) -> Out:
        """The agent logs out. Ringing (or reserved for a callback being dialled): the offer is
        withdrawn (`OfferWithdrawn`: stop the ring), the caller goes back with its place, then the
        agent logs out. On a call: deferred to the call's end (`AgentLogoutDeferred`), no wrap-up.
        A queue left without members applies its no-agents rules to the callers waiting."""
        agent = self._agents.get(agent_id)
        if agent is None:
            return [self._ignored(now, "log_out", agent_id, agent)]
        if agent.pending_logout:
            return [InputIgnored(now, "log_out", agent_id, "logout already deferred to the call's end")]
        if agent.state is AgentState.ON_CALL:
            agent.pending_logout = True
            return [AgentLogoutDeferred(now, agent_id)]
        out: Out = []
        if agent.state is AgentState.RESERVED:
            assert agent.call_id is not None
            self._withdraw(self._calls[agent.call_id], now, out, "agent_logged_out")
        self._log_out(agent, now, out)
        return out

    def change_agent(self, agent: AgentConfig, now: float) -> Out:
        """A supervisor changes a logged-in agent's skills, levels or queues, effective at once. A free
        agent is indexed again and takes the best waiting caller it now matches; a busy agent keeps its
        call, and the change counts from its next one. A queue the agent left with no member applies
        its no-agents rules to the callers waiting."""
        record = self._agents.get(agent.agent_id)
        if record is None:
            return [self._ignored(now, "change_agent", agent.agent_id, record)]
        unknown = [q for q in agent.queues if q not in self._queues]
        if unknown:
            return [InputIgnored(now, "change_agent", agent.agent_id, f"unknown queues {unknown}")]
        out: Out = [AgentChanged(now, agent.agent_id, agent.skills, agent.queues)]
        left = [name for name in record.config.queues if name not in agent.queues]
        self._leave_available(record)
        for name in left:
            self._queues[name].members.discard(agent.agent_id)
        record.config = agent
        for name in agent.queues:
            self._queues[name].members.add(agent.agent_id)
        if record.state is AgentState.AVAILABLE and not self._route_agent(record, now, out):
            self._join_free(record, now)
        self._members_left(left, now, out)
        return out

    def pause(self, agent_id: str, reason: str, now: float) -> Out:
        """Not ready with a reason code. Asked during a call, it starts when the call's work is done."""
        agent = self._agents.get(agent_id)
        if agent is None:
            return [self._ignored(now, "pause", agent_id, agent)]
        if reason not in self.settings.pause_reasons:
            return [InputIgnored(now, "pause", agent_id, f"unknown pause reason {reason!r}")]
        if agent.state in (AgentState.RESERVED, AgentState.ON_CALL):
            agent.pending_pause = reason
            return [AgentPauseDeferred(now, agent_id, reason)]
        out: Out = []
        self._leave_available(agent)
        agent.version += 1  # a wrap-up ends here
        self._set_state(agent, AgentState.NOT_READY, now, out, reason=reason)
        return out

    def resume(self, agent_id: str, now: float) -> Out:
        """Ready again. Asked during a call, it cancels the pause or logout asked for the call's end."""
        agent = self._agents.get(agent_id)
        busy = agent is not None and agent.state in (AgentState.RESERVED, AgentState.ON_CALL)
        if agent is not None and busy and (agent.pending_pause or agent.pending_logout):
            agent.pending_pause, agent.pending_logout = None, False
            return []
        if agent is None or agent.state is not AgentState.NOT_READY:
            return [self._ignored(now, "resume", agent_id, agent)]
        out: Out = []
        agent.misses = 0
        self._agent_ready(agent, now, out)
        return out

    def end_wrap_up(self, agent_id: str, now: float) -> Out:
        agent = self._agents.get(agent_id)
        if agent is None or agent.state is not AgentState.WRAP_UP:
            return [self._ignored(now, "end_wrap_up", agent_id, agent)]
        out: Out = []
        self._agent_ready(agent, now, out)
        return out

    def extend_wrap_up(self, agent_id: str, seconds: float, now: float) -> Out:
        agent = self._agents.get(agent_id)
        if agent is None or agent.state is not AgentState.WRAP_UP or agent.wrap_up_until is None:
            return [self._ignored(now, "extend_wrap_up", agent_id, agent)]
        if not seconds > 0:
            return [InputIgnored(now, "extend_wrap_up", agent_id, f"seconds={seconds!r} must be > 0")]
        agent.wrap_up_until += seconds
        self._arm_agent(agent)
        return [WrapUpExtended(now, agent_id, agent.wrap_up_until)]

    # ------------------------------------------------------------------ call inputs
    def call_arrived(self, call: Call, now: float) -> Out:
        if call.call_id in self._calls:
            return [InputIgnored(now, "call_arrived", call.call_id, "call already known")]
        if call.queue not in self._queues:
            return [InputIgnored(now, "call_arrived", call.call_id, f"unknown queue {call.queue!r}")]
        self._seq += 1
        record = CallRecord(call, self._seq, now, call.queue, now)
        self._calls[call.call_id] = record
        out: Out = []
        self._enter_queue(record, call.queue, now, out)
        return out

    def call_connected(self, call_id: str, now: float) -> Out:
        """The agent answered (or, for a callback, the customer answered): they talk."""
        call = self._calls.get(call_id)
        if call is None or call.phase is not CallPhase.OFFERED or call.agent_id is None:
            return [self._call_ignored(now, "call_connected", call_id, call)]
        agent = self._agents[call.agent_id]
        call.phase = CallPhase.CONNECTED
        call.version += 1  # the ring timer is over
        agent.misses = 0
        today = self._today(now)
        agent.calls_today = agent.calls_today + 1 if agent.calls_day == today else 1
        agent.calls_day = today
        if call.call.customer_id is not None:
            self._last_agent[call.call.customer_id] = (agent.config.agent_id, now)
        self._queues[call.queue].rate.answered(now)
        out: Out = []
        self._set_state(agent, AgentState.ON_CALL, now, out, call_id=call_id)
        out.append(CallAnswered(now, call_id, agent.config.agent_id, call.queue, now - call.arrived_at,
                                callback=call.callback_number is not None))
        return out

    def call_ended(self, call_id: str, now: float) -> Out:
        """The conversation is over (either side hung up, or the caller was transferred away). An agent
        consulted on it (see `direct_call_started`) is done with it too."""
        call = self._calls.get(call_id)
        if call is None or call.phase is not CallPhase.CONNECTED or call.agent_id is None:
            return [self._call_ignored(now, "call_ended", call_id, call)]
        del self._calls[call_id]
        out: Out = []
        self._talk_over(self._agents[call.agent_id], call, now, out)
        for agent_id in self._consulted.pop(call_id, ()):
            consulted = self._agents[agent_id]
            if consulted.state is AgentState.ON_CALL and consulted.call_id == call_id:
                self._direct_over(consulted, now, out)
        return out

    def call_handed_over(self, call_id: str, agent_id: str, now: float) -> Out:
        """An attended transfer is complete: the call's agent is done with it (wrap-up, as after any call)
        and the call now belongs to `agent_id`, consulted on it meanwhile (`direct_call_started`), who stays
        on it; its end (`call_ended`) gives them the queue's wrap-up."""
        call = self._calls.get(call_id)
        if call is None or call.phase is not CallPhase.CONNECTED or call.agent_id in (None, agent_id):
            return [self._call_ignored(now, "call_handed_over", call_id, call)]
        target = self._agents.get(agent_id)
        if target is None or target.state is not AgentState.ON_CALL or target.call_id != call_id:
            return [self._ignored(now, "call_handed_over", agent_id, target)]
        assert call.agent_id is not None
        previous = self._agents[call.agent_id]
        call.agent_id = agent_id
        self._no_longer_consulted(call_id, agent_id)
        out: Out = []
        self._talk_over(previous, call, now, out)
        return out

    def _talk_over(self, agent: AgentRecord, call: CallRecord, now: float, out: Out) -> None:
        """The agent's conversation on a call of the queue's is over: wrap-up, or logout if asked."""
        wrap_up = self._queues[call.queue].config.wrap_up
        if agent.pending_logout:
            self._log_out(agent, now, out)
        elif wrap_up > 0:
            agent.wrap_up_until = now + wrap_up
            self._set_state(agent, AgentState.WRAP_UP, now, out, call_id=call.call.call_id,
                            until=agent.wrap_up_until)
            self._arm_agent(agent)
        else:
            self._agent_ready(agent, now, out)

    def direct_call_started(self, agent_id: str, call_id: str, now: float) -> Out:
        """The agent's phone is in a call the ACD did not route (a transfer straight to them, a call they
        dialled), or is consulted on a routed call by the agent talking on it (an attended transfer): while
        it lasts they are on that call and offered nobody. A wrap-up ends there; a paused agent stays paused
        (the call does not make them ready)."""
        agent = self._agents.get(agent_id)
        if agent is None or agent.state not in (AgentState.AVAILABLE, AgentState.WRAP_UP):
            return [self._ignored(now, "direct_call_started", agent_id, agent)]
        routed = self._calls.get(call_id)
        if routed is not None and (routed.phase is not CallPhase.CONNECTED or routed.agent_id in (None, agent_id)):
            return [InputIgnored(now, "direct_call_started", call_id, "a call the ACD routes")]
        out: Out = []
        self._leave_available(agent)
        agent.version += 1  # a wrap-up timer is stale now
        self._set_state(agent, AgentState.ON_CALL, now, out, call_id=call_id)
        if routed is not None:
            self._consulted.setdefault(call_id, []).append(agent_id)
        return out

    def direct_call_ended(self, agent_id: str, call_id: str, now: float) -> Out:
        """That call is over (or the consultation, for a consulted agent): the agent is ready again (no
        wrap-up: no queue's call of theirs), or logs out or pauses if they asked meanwhile."""
        agent = self._agents.get(agent_id)
        routed = self._calls.get(call_id)
        if (agent is None or agent.state is not AgentState.ON_CALL or agent.call_id != call_id
                or (routed is not None and routed.agent_id == agent_id)):
            return [self._ignored(now, "direct_call_ended", agent_id, agent)]
        out: Out = []
        self._no_longer_consulted(call_id, agent_id)
        self._direct_over(agent, now, out)
        return out

    def _no_longer_consulted(self, call_id: str, agent_id: str) -> None:
        consulted = self._consulted.get(call_id)
        if consulted is not None and agent_id in consulted:
            consulted.remove(agent_id)
            if not consulted:
                del self._consulted[call_id]

    def _direct_over(self, agent: AgentRecord, now: float, out: Out) -> None:
        if agent.pending_logout:
            self._log_out(agent, now, out)
        else:
            self._agent_ready(agent, now, out)

    def offer_unanswered(self, call_id: str, now: float) -> Out:
        """Asterisk reports the agent's leg ended without answer (NOANSWER, BUSY, rejected)."""
        call = self._calls.get(call_id)
        if call is None or call.phase is not CallPhase.OFFERED or call.callback_number is not None:
            return [self._call_ignored(now, "offer_unanswered", call_id, call)]
        out: Out = []
        self._ring_no_answer(call, now, out)
        return out

    def call_abandoned(self, call_id: str, now: float) -> Out:
        """The caller hung up before talking to an agent (for a callback request: cancelled it).

        After `request_callback` the caller's own hangup is expected: the adapter does not report it.
        """
        call = self._calls.get(call_id)
        if call is None or call.phase is CallPhase.CONNECTED:
            return [self._call_ignored(now, "call_abandoned", call_id, call)]
        out: Out = []
        self._leave_queue(call)
        del self._calls[call_id]
        out.append(CallAbandoned(now, call_id, call.queue, now - call.arrived_at, call.agent_id))
        if call.agent_id is not None:
            self._agent_ready(self._agents[call.agent_id], now, out)
        return out

    def callback_arrived(self, call: Call, number: str, now: float) -> Out:
        """A caller who asked to be called back without waiting on the line (the IVR's callback, once the
        call is over): it joins its queue as a callback, in arrival order, and meets the queue's rules."""
        if call.call_id in self._calls:
            return [InputIgnored(now, "callback_arrived", call.call_id, "call already known")]
        if call.queue not in self._queues:
            return [InputIgnored(now, "callback_arrived", call.call_id, f"unknown queue {call.queue!r}")]
        if not number:
            return [InputIgnored(now, "callback_arrived", call.call_id, "no number to call back")]
        self._seq += 1
        record = CallRecord(call, self._seq, now, call.queue, now)
        record.callback_number = number
        self._calls[call.call_id] = record
        out: Out = [CallbackRequested(now, call.call_id, call.queue, number)]
        self._enter_queue(record, call.queue, now, out)
        return out

    def request_callback(self, call_id: str, now: float, number: str | None = None) -> Out:
        """The waiting caller asks to be called back (on `number`, else its calling number)."""
        call = self._calls.get(call_id)
        number = number or (call.call.number if call else None)
        if call is None or call.phase is not CallPhase.WAITING or call.callback_number is not None or not number:
            return [self._call_ignored(now, "request_callback", call_id, call)]
        out: Out = []
        self._make_callback(call, number, now, out)
        return out

    def callback_failed(self, call_id: str, now: float) -> Out:
        """The customer did not answer the callback (busy, no answer, failed)."""
        call = self._calls.get(call_id)
        if call is None or call.phase is not CallPhase.OFFERED or call.callback_number is None:
            return [self._call_ignored(now, "callback_failed", call_id, call)]
        out: Out = []
        self._callback_failed(call, now, out)
        return out

    # ------------------------------------------------------------------ time
    def next_deadline(self) -> float | None:
        """When `tick` next has something to do (None: nothing is timed)."""
        return self._timers.earliest(self._is_live)

    def tick(self, now: float) -> Out:
        """Everything due at or before `now`: ring timeouts, wrap-up ends, relaxation, overflow,
        max wait, callback retries, a queue closing (its waiting callers leave)."""
        out: Out = []
        while (due := self._timers.pop_due(now, self._is_live)) is not None:
            kind, ident = due
            if kind is TimerKind.AGENT:
                self._agent_ready(self._agents[ident], now, out)
                continue
            if kind is TimerKind.QUEUE:
                self._hours_changed(self._queues[ident], now, out)
                continue
            call = self._calls[ident]
            if call.phase is CallPhase.OFFERED:
                if call.callback_number is None:
                    self._ring_no_answer(call, now, out)
                else:
                    self._callback_failed(call, now, out)
            elif call.phase is CallPhase.DELAYED:
                self._enqueue(call, now, out, announce=False)
            else:
                self._settle(call, now, out)
        return out

    def remember_last_agent(self, customer_id: str, agent_id: str, at: float) -> None:
        """Seed the customer history for `RoutingPolicy.LAST_AGENT` (from the call records)."""
        known = self._last_agent.get(customer_id)
        if known is None or known[1] <= at:
            self._last_agent[customer_id] = (agent_id, at)

    # ------------------------------------------------------------------ queries
    def agent_state(self, agent_id: str) -> AgentState:
        agent = self._agents.get(agent_id)
        return AgentState.LOGGED_OUT if agent is None else agent.state

    def agent_call(self, agent_id: str) -> str | None:
        agent = self._agents.get(agent_id)
        return None if agent is None else agent.call_id

    def call(self, call_id: str) -> CallView | None:
        c = self._calls.get(call_id)
        if c is None:
            return None
        return CallView(call_id, c.queue, c.call.priority, c.phase, c.agent_id, c.arrived_at, c.stage,
                        c.callback_number)

    def calls(self) -> list[CallView]:
        return [view for call_id in self._calls if (view := self.call(call_id)) is not None]

    def call_groups(self, call_id: str) -> Groups:
        """The skill groups the call accepts now (see `acd.skills`)."""
        c = self._calls[call_id]
        return self._queues[c.queue].groups((c.stage, c.call.skills))

    def agents(self) -> dict[str, AgentConfig]:
        return {agent_id: agent.config for agent_id, agent in self._agents.items()}

    def waiting_calls(self, queue: str) -> list[str]:
        """The routable callers of `queue` in service order."""
        return self._queues[queue].waiting_call_ids()

    def free_agents(self, queue: str) -> list[str]:
        """The available agents of `queue` in the order its policy offers them calls."""
        return list(self._queues[queue].free_agent_ids())

    def position(self, call_id: str) -> int | None:
        c = self._calls.get(call_id)
        return None if c is None else self._queues[c.queue].position(call_id)

    def expected_wait(self, call_id: str, now: float) -> float | None:
        """Seconds this caller may still wait, from the queue's live answer rate (None: unknown)."""
        position = self.position(call_id)
        if position is None:
            return None
        return self._queues[self._calls[call_id].queue].rate.expected_wait(position, now)

"""The router's internals: live indexes, routing, timers. `acd.router.Router` is the public face.

Two directions of routing, both indexed so that a decision does not scan every agent and caller:

* `_route_call`: a caller (new, requeued, relaxed, overflowed) walks its queue's free agents in the
  policy's order and takes the first whose skills match. Free agents of a queue with waiting callers
  are only those who matched none of them, so the walk is short.
* `_route_agent`: a freed agent looks at the first caller of each requirement bucket (see
  `acd.queues`) in each queue it serves, and takes the best by the service key.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from acd.events import (
    AcdEvent,
    AgentStateChanged,
    CallbackDialled,
    CallbackFailed,
    CallbackRequested,
    CallExited,
    CallOffered,
    CallOverflowed,
    CallQueued,
    CallRelaxed,
    InputIgnored,
    OfferWithdrawn,
    RingNoAnswer,
)
from acd.hours import OpeningHours
from acd.model import RING_NO_ANSWER, AcdSettings, AgentState, ExitAction, ExitReason, RoutingPolicy
from acd.policy import agent_key
from acd.queues import CallKey, QueueState
from acd.skills import matches
from acd.state import AgentRecord, CallPhase, CallRecord
from acd.timers import Deadlines, TimerKind

Out = list[AcdEvent]
_DAY = 86_400.0
_HOURS_HORIZON_DAYS = 400


class RouterCore:
    def __init__(self, settings: AcdSettings) -> None:
        self.settings = settings
        self._queues = {q.name: QueueState(q) for q in settings.queues}
        self._agents: dict[str, AgentRecord] = {}
        self._calls: dict[str, CallRecord] = {}
        self._seq = 0
        self._timers = Deadlines()
        self._last_agent: dict[str, tuple[str, float]] = {}  # customer -> (agent, answered at)
        self._consulted: dict[str, list[str]] = {}  # routed call -> agents consulted on it (attended transfer)
        self._zone = OpeningHours.zone(settings.time_zone)

    # ------------------------------------------------------------------ internals: agents
    def _set_state(self, agent: AgentRecord, state: AgentState, now: float, out: Out, *,
                   reason: str | None = None, call_id: str | None = None, until: float | None = None) -> None:
        out.append(AgentStateChanged(now, agent.config.agent_id, state, agent.state, agent.since, reason,
                                     call_id, until))
        agent.state, agent.since, agent.reason, agent.call_id = state, now, reason, call_id
        if state is not AgentState.WRAP_UP:
            agent.wrap_up_until = None

    def _agent_ready(self, agent: AgentRecord, now: float, out: Out) -> None:
        """The agent's work is done (login, resume, wrap-up over, offer withdrawn): available, unless a
        pause was asked meanwhile."""
        agent.version += 1
        if agent.pending_pause is not None:
            reason, agent.pending_pause = agent.pending_pause, None
            self._set_state(agent, AgentState.NOT_READY, now, out, reason=reason)
            return
        self._set_state(agent, AgentState.AVAILABLE, now, out)
        agent.available_since = now
        if not self._route_agent(agent, now, out):  # a caller waits for it: no need to list it as free
            self._join_free(agent, now)

    def _join_free(self, agent: AgentRecord, now: float) -> None:
        today = self._today(now) if agent.calls_day is not None else None
        calls_today = agent.calls_today if agent.calls_day == today else 0
        for name in agent.config.queues:
            queue = self._queues[name]
            last = queue.last_offered.get(agent.config.agent_id, 0)
            queue.add_free(agent.config.agent_id, agent_key(queue.config, agent, calls_today, last))
        agent.listed = True

    def _leave_available(self, agent: AgentRecord) -> None:
        if agent.listed:
            for name in agent.config.queues:
                self._queues[name].remove_free(agent.config.agent_id)
            agent.listed = False

    def _log_out(self, agent: AgentRecord, now: float, out: Out) -> None:
        self._leave_available(agent)
        agent.version += 1  # a wrap-up timer is void
        self._set_state(agent, AgentState.LOGGED_OUT, now, out)
        agent_id = agent.config.agent_id
        for name in agent.config.queues:
            self._queues[name].members.discard(agent_id)
        del self._agents[agent_id]
        self._members_left(agent.config.queues, now, out)

    def _withdraw(self, call: CallRecord, now: float, out: Out, reason: str) -> None:
        """Take an offer back (the agent stays reserved until the caller is requeued): the caller goes
        back with its place and is routed to another free agent if there is one."""
        assert call.agent_id is not None
        out.append(OfferWithdrawn(now, call.call.call_id, call.agent_id, call.queue, reason))
        if call.callback_number is not None:
            call.callback_attempts -= 1  # withdrawn, not failed: the attempt does not count
        self._requeue(call, now, out)

    def _route_agent(self, agent: AgentRecord, now: float, out: Out) -> bool:
        """Give the agent the best caller it can take, if any; True if it got one."""
        best: CallKey | None = None
        best_rank = 0
        skills = agent.config.skills
        queues = self._queues
        for name in agent.config.queues:
            queue = queues[name]
            if best is not None and queue.rank > best_rank:
                continue  # a queue served before this one has a caller for the agent already
            head = queue.best_call_for(skills)
            if head is not None and (best is None or queue.rank < best_rank or head < best):
                best, best_rank = head, queue.rank
        if best is None:
            return False
        self._offer(self._calls[best[-1]], agent, now, out)
        return True

    def _arm_agent(self, agent: AgentRecord) -> None:
        agent.version += 1
        if agent.wrap_up_until is not None:
            self._timers.arm(agent.wrap_up_until, TimerKind.AGENT, agent.config.agent_id, agent.version)

    # ------------------------------------------------------------------ internals: calls
    def _service_key(self, call: CallRecord) -> tuple[int, int, float, int, str]:
        return (-self._queues[call.queue].config.priority, *call.key)

    def _enter_queue(self, call: CallRecord, name: str, now: float, out: Out) -> None:
        queue = self._queues[name]
        config = queue.config
        call.queue = name
        if name in call.visited:
            self._exit(call, ExitReason.OVERFLOW_LOOP, config.exit_action, now, out)
            return
        call.visited += (name,)
        if config.hours is not None:
            if not config.hours.is_open(now):
                self._exit(call, ExitReason.CLOSED, config.exit_action, now, out)
                return
            if not queue.hours_armed:
                self._arm_queue(queue, now)
        if config.max_size is not None and len(queue.waiting) >= config.max_size:
            self._exit(call, ExitReason.FULL, config.exit_action, now, out)
            return
        if not queue.members:
            if config.overflow_when_no_agents and config.overflow_to is not None:
                out.append(CallOverflowed(now, call.call.call_id, name, config.overflow_to, "no_agents"))
                self._enter_queue(call, config.overflow_to, now, out)
                return
            if not config.join_when_empty:
                self._exit(call, ExitReason.NO_AGENTS, config.exit_action, now, out)
                return
        call.enqueued_at = now
        call.stage = 0
        self._enqueue(call, now, out, announce=True)

    def _enqueue(self, call: CallRecord, now: float, out: Out, *, announce: bool) -> None:
        queue = self._queues[call.queue]
        call.phase = CallPhase.WAITING
        call.agent_id = None
        position = queue.add_waiting(call.call.call_id, call.key, (call.stage, call.call.skills))
        if announce:
            out.append(CallQueued(now, call.call.call_id, call.queue, call.call.priority, position))
        self._settle(call, now, out)

    def _requeue(self, call: CallRecord, now: float, out: Out) -> None:
        """An offer that did not become a call: the caller is back with its place and priority, unless
        its queue closed or lost its members meanwhile; then it meets the rules the callers waiting met
        then (a callback waits off the line and stays)."""
        queue = self._queues[call.queue]
        config = queue.config
        if config.hours is not None:
            if not config.hours.is_open(now):
                if call.callback_number is None:
                    self._exit(call, ExitReason.CLOSED, config.exit_action, now, out)
                    return
            elif not queue.hours_armed:
                self._arm_queue(queue, now)
        self._enqueue(call, now, out, announce=False)
        if call.phase is CallPhase.WAITING:
            self._members_left((call.queue,), now, out)

    def _leave_queue(self, call: CallRecord) -> None:
        queue = self._queues[call.queue]
        if queue.is_waiting(call.call.call_id):
            queue.remove_waiting(call.call.call_id)
        call.version += 1

    def _settle(self, call: CallRecord, now: float, out: Out) -> None:
        """Apply what is due for a waiting caller (relaxation, overflow, max wait), route it, arm its timer."""
        queue = self._queues[call.queue]
        config = queue.config
        due = self._waiting_due(call)
        while due is not None and due[0] <= now:
            if due[1] == "relax":
                queue.remove_waiting(call.call.call_id)
                call.stage += 1
                queue.add_waiting(call.call.call_id, call.key, (call.stage, call.call.skills))
                out.append(CallRelaxed(now, call.call.call_id, call.queue, call.stage))
                due = self._waiting_due(call)
            elif due[1] == "overflow" and config.overflow_to is not None:
                self._leave_queue(call)
                out.append(CallOverflowed(now, call.call.call_id, call.queue, config.overflow_to, "timeout"))
                self._enter_queue(call, config.overflow_to, now, out)
                return
            else:
                self._exit(call, ExitReason.MAX_WAIT, config.exit_action, now, out)
                return
        self._route_call(call, now, out)
        if call.phase is CallPhase.WAITING:  # not offered: its next deadline (routing changed none)
            call.version += 1
            if due is not None:
                self._timers.arm(due[0], TimerKind.CALL, call.call.call_id, call.version)

    def _waiting_due(self, call: CallRecord) -> tuple[float, str] | None:
        queue = self._queues[call.queue]
        if not queue.timed:
            return None
        config = queue.config
        candidates: list[tuple[float, int, str]] = []
        if call.stage < len(config.relaxation):
            candidates.append((call.enqueued_at + config.relaxation[call.stage].after, 0, "relax"))
        if call.callback_number is None:  # a callback waits off the line: no overflow, no max wait
            if config.overflow_after is not None:
                candidates.append((call.enqueued_at + config.overflow_after, 1, "overflow"))
            if config.max_wait is not None:
                candidates.append((call.enqueued_at + config.max_wait, 2, "max_wait"))
        if not candidates:
            return None
        due, _, what = min(candidates)
        return due, what

    def _arm_call(self, call: CallRecord) -> None:
        call.version += 1
        if call.phase is CallPhase.OFFERED:
            due: float | None = call.ring_until
        elif call.phase is CallPhase.DELAYED:
            due = call.retry_at
        elif call.phase is CallPhase.WAITING:
            waiting_due = self._waiting_due(call)
            due = None if waiting_due is None else waiting_due[0]
        else:
            due = None
        if due is not None:
            self._timers.arm(due, TimerKind.CALL, call.call.call_id, call.version)

    def _exit(self, call: CallRecord, reason: ExitReason, action: ExitAction, now: float, out: Out) -> None:
        in_queue = self._queues[call.queue].is_waiting(call.call.call_id)
        if reason is ExitReason.MAX_WAIT and action is ExitAction.CALLBACK and call.call.number and in_queue:
            self._make_callback(call, call.call.number, now, out)
            return
        if action is ExitAction.CALLBACK and reason is ExitReason.MAX_WAIT:
            action = ExitAction.VOICEMAIL  # no number to call back: leave a message instead
        self._leave_queue(call)
        del self._calls[call.call.call_id]
        out.append(CallExited(now, call.call.call_id, call.queue, reason, action))

    # ------------------------------------------------------------------ internals: queue state
    def _members_left(self, names: Iterable[str], now: float, out: Out) -> None:
        """Agents left these queues (logout, a supervisor's change). A queue left with no member applies
        its no-agents rules to the callers already waiting, as it would to a new arrival: overflow
        (`overflow_when_no_agents`), else leave if it does not take callers when empty. Callbacks wait
        off the line and stay."""
        for name in names:
            queue = self._queues[name]
            config = queue.config
            if queue.members or (config.join_when_empty and not config.overflow_when_no_agents):
                continue
            for call_id in queue.waiting_call_ids():  # service order: the first waiting goes first
                call = self._calls[call_id]
                if call.callback_number is not None:
                    continue
                if config.overflow_when_no_agents and config.overflow_to is not None:
                    self._leave_queue(call)
                    out.append(CallOverflowed(now, call_id, name, config.overflow_to, "no_agents"))
                    self._enter_queue(call, config.overflow_to, now, out)
                else:
                    self._exit(call, ExitReason.NO_AGENTS, config.exit_action, now, out)

    def _arm_queue(self, queue: QueueState, now: float) -> None:
        """Arm the queue's next opening-hours change (its closing, while callers come in). Hours that
        do not change within the horizon (always open) are looked at again then, not on every arrival."""
        assert queue.config.hours is not None
        queue.version += 1
        queue.hours_armed = True
        due = queue.config.hours.next_change(now, _HOURS_HORIZON_DAYS)
        self._timers.arm(now + _HOURS_HORIZON_DAYS * _DAY if due is None else due, TimerKind.QUEUE,
                         queue.config.name, queue.version)

    def _hours_changed(self, queue: QueueState, now: float, out: Out) -> None:
        """The queue's opening hours changed. Closed: the callers waiting leave (reason CLOSED, the
        queue's exit action); callbacks wait off the line and stay. The next timer is armed by the
        next arrival."""
        assert queue.config.hours is not None
        queue.hours_armed = False
        if queue.config.hours.is_open(now):
            self._arm_queue(queue, now)
            return
        for call_id in queue.waiting_call_ids():
            call = self._calls[call_id]
            if call.callback_number is None:
                self._exit(call, ExitReason.CLOSED, queue.config.exit_action, now, out)

    # ------------------------------------------------------------------ internals: callbacks
    def _make_callback(self, call: CallRecord, number: str, now: float, out: Out) -> None:
        call.callback_number = number
        out.append(CallbackRequested(now, call.call.call_id, call.queue, number))
        self._settle(call, now, out)

    def _route_call(self, call: CallRecord, now: float, out: Out) -> None:
        queue = self._queues[call.queue]
        if not queue.free:
            return
        groups = queue.groups((call.stage, call.call.skills))
        preferred = call.call.preferred_agent
        if preferred is not None and queue.is_free(preferred):
            agent = self._agents[preferred]
            if matches(agent.config.skills, groups):
                self._offer(call, agent, now, out)
                return
        customer = call.call.customer_id
        if queue.config.policy is RoutingPolicy.LAST_AGENT and customer in self._last_agent:
            agent_id, served_at = self._last_agent[customer]
            if now - served_at <= queue.config.last_agent_days * _DAY and queue.is_free(agent_id):
                agent = self._agents[agent_id]
                if matches(agent.config.skills, groups):
                    self._offer(call, agent, now, out)
                    return
        agents = self._agents
        for key in queue.free:
            agent = agents[key[-1]]
            if matches(agent.config.skills, groups):
                self._offer(call, agent, now, out)
                return

    def _offer(self, call: CallRecord, agent: AgentRecord, now: float, out: Out) -> None:
        queue = self._queues[call.queue]
        agent_id, call_id = agent.config.agent_id, call.call.call_id
        queue.remove_waiting(call_id)
        self._leave_available(agent)
        queue.offers += 1
        queue.last_offered[agent_id] = queue.offers
        call.phase, call.agent_id = CallPhase.OFFERED, agent_id
        self._set_state(agent, AgentState.RESERVED, now, out, call_id=call_id)
        if call.callback_number is None:
            call.ring_until = now + queue.config.ring_timeout
            out.append(CallOffered(now, call_id, agent_id, call.queue, call.ring_until))
        else:
            call.callback_attempts += 1
            call.ring_until = now + queue.config.callback.dial_timeout
            out.append(CallbackDialled(now, call_id, agent_id, call.queue, call.callback_number,
                                       call.callback_attempts, call.ring_until))
        call.version += 1
        self._timers.arm(call.ring_until, TimerKind.CALL, call_id, call.version)

    def _ring_no_answer(self, call: CallRecord, now: float, out: Out) -> None:
        assert call.agent_id is not None
        agent = self._agents[call.agent_id]
        agent.misses += 1
        out.append(RingNoAnswer(now, call.call.call_id, call.agent_id, call.queue, agent.misses))
        if agent.misses >= self.settings.pause_after_misses:
            agent.pending_pause = None
            self._set_state(agent, AgentState.NOT_READY, now, out, reason=RING_NO_ANSWER)
            self._requeue(call, now, out)
        else:
            # below the auto-pause threshold the agent stays in service, but the caller is routed
            # first (the agent is still reserved), so that another free agent gets it if there is one
            self._requeue(call, now, out)
            self._agent_ready(agent, now, out)

    def _callback_failed(self, call: CallRecord, now: float, out: Out) -> None:
        assert call.agent_id is not None
        agent = self._agents[call.agent_id]
        rule = self._queues[call.queue].config.callback
        final = call.callback_attempts >= rule.max_attempts
        retry_at = None if final else now + rule.retry_after
        out.append(CallbackFailed(now, call.call.call_id, call.agent_id, call.queue, call.callback_attempts,
                                  retry_at))
        if retry_at is None:
            del self._calls[call.call.call_id]
            call.version += 1
        else:
            call.phase, call.agent_id, call.retry_at = CallPhase.DELAYED, None, retry_at
            self._arm_call(call)
        self._agent_ready(agent, now, out)

    # ------------------------------------------------------------------ internals: misc
    def _is_live(self, kind: TimerKind, ident: str, version: int) -> bool:
        record: AgentRecord | CallRecord | QueueState | None
        if kind is TimerKind.CALL:
            record = self._calls.get(ident)
        elif kind is TimerKind.AGENT:
            record = self._agents.get(ident)
        else:
            record = self._queues.get(ident)
        return record is not None and record.version == version

    def _today(self, now: float) -> date:
        return datetime.fromtimestamp(now, self._zone).date()

    @staticmethod
    def _ignored(now: float, what: str, agent_id: str, agent: AgentRecord | None) -> InputIgnored:
        return InputIgnored(now, what, agent_id, "unknown agent" if agent is None else f"agent is {agent.state}")

    @staticmethod
    def _call_ignored(now: float, what: str, call_id: str, call: CallRecord | None) -> InputIgnored:
        return InputIgnored(now, what, call_id, "unknown call" if call is None else f"call is {call.phase}")

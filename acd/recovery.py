"""Restart recovery: the router rebuilt from the database (agents) and the CTI resync (callers).

Split from `acd.router` as its own idea: it runs once, before any live input, and checks what it is
given (a restored state that cannot be true raises `ValueError`, naming the agent or call).
"""

from __future__ import annotations

from collections.abc import Iterable

from acd.core import Out, RouterCore
from acd.model import AgentState, RestoredAgent, RestoredCall
from acd.state import AgentRecord, CallPhase, CallRecord


class RecoveringCore(RouterCore):
    def restore(self, agents: Iterable[RestoredAgent], calls: Iterable[RestoredCall], now: float) -> Out:
        """Rebuild after a restart, from the database (agents) and the CTI resync (callers, with
        their original arrival, queue and priority). Ringing and talking callers stay with their
        agent and are not offered again; waiting callers keep their place. Agents in wrap-up keep the
        time they had left (`RestoredAgent.wrap_up_until`); one that ended during the restart ends now.
        A queue that closed meanwhile sends its waiting callers to its exit. Returns the routing
        decisions made once everything is back (waiting callers in service order, each offered once).
        """
        if self._agents or self._calls:
            raise ValueError("restore: the router must be empty")
        for restored in agents:
            agent = restored.agent
            if restored.state not in (AgentState.AVAILABLE, AgentState.NOT_READY, AgentState.WRAP_UP):
                raise ValueError(f"restored agent {agent.agent_id!r} state={restored.state!r}: "
                                 "AVAILABLE, NOT_READY or WRAP_UP (calls give RESERVED and ON_CALL)")
            if restored.state is AgentState.WRAP_UP and restored.wrap_up_until is None:
                raise ValueError(f"restored agent {agent.agent_id!r} wrap_up_until=None: WRAP_UP needs its end")
            reason = restored.reason if restored.state is AgentState.NOT_READY else None
            if restored.state is AgentState.NOT_READY and reason not in self.settings.pause_reasons:
                raise ValueError(f"restored agent {agent.agent_id!r} reason={reason!r}: not a pause reason")
            unknown = [q for q in agent.queues if q not in self._queues]
            if unknown:
                raise ValueError(f"restored agent {agent.agent_id!r} queues={unknown!r}: unknown queues")
            record = AgentRecord(agent, restored.state, restored.since, reason=reason,
                                 available_since=restored.since)
            if restored.state is AgentState.WRAP_UP:
                record.wrap_up_until = restored.wrap_up_until
            self._agents[agent.agent_id] = record
            for name in agent.queues:
                self._queues[name].members.add(agent.agent_id)
        waiting: list[CallRecord] = []
        for restored_call in sorted(calls, key=lambda c: (c.arrived_at, c.call.call_id)):
            call_record = self._restore_call(restored_call, now)
            if call_record.phase is CallPhase.WAITING:
                waiting.append(call_record)
        for agent_record in self._agents.values():
            if agent_record.state is AgentState.AVAILABLE:
                self._join_free(agent_record, now)
        out: Out = []
        for call_record in waiting:
            queue = self._queues[call_record.queue]
            queue.add_waiting(call_record.call.call_id, call_record.key, (call_record.stage, call_record.call.skills))
        for queue in self._queues.values():
            if queue.config.hours is not None and queue.waiting:
                self._hours_changed(queue, now, out)  # closed meanwhile: its callers leave; open: timer armed
        for call_record in sorted(waiting, key=self._service_key):
            if call_record.call.call_id in self._calls:
                self._settle(call_record, now, out)
        # wrap-ups that ended during the restart end now (after the free agents took their callers);
        # the others keep the time they had left
        for agent_record in list(self._agents.values()):
            if agent_record.state is AgentState.WRAP_UP and agent_record.wrap_up_until is not None:
                if agent_record.wrap_up_until <= now:
                    self._agent_ready(agent_record, now, out)
                else:
                    self._arm_agent(agent_record)
        return out

    def _restore_call(self, restored: RestoredCall, now: float) -> CallRecord:
        call = restored.call
        if call.queue not in self._queues or call.call_id in self._calls:
            raise ValueError(f"restored call {call.call_id!r} queue={call.queue!r}: unknown queue or repeated call")
        self._seq += 1
        entered = restored.enqueued_at or restored.arrived_at
        record = CallRecord(call, self._seq, restored.arrived_at, call.queue, entered,
                            callback_number=restored.callback_number)
        record.visited = (call.queue,)
        self._calls[call.call_id] = record
        if restored.agent_id is None:
            return record
        agent = self._agents.get(restored.agent_id)
        if agent is None or agent.call_id is not None:
            raise ValueError(f"restored call {call.call_id!r} agent_id={restored.agent_id!r}: "
                             "agent not restored, or already holding another call")
        record.agent_id = restored.agent_id
        record.phase = CallPhase.CONNECTED if restored.answered else CallPhase.OFFERED
        agent.state = AgentState.ON_CALL if restored.answered else AgentState.RESERVED
        agent.call_id, agent.since, agent.wrap_up_until = call.call_id, now, None
        if not restored.answered:  # the ring time starts again from the restart
            record.ring_until = now + self._queues[call.queue].config.ring_timeout
            self._arm_call(record)
        return record

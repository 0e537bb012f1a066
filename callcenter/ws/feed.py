"""What the desktop pages see, built from the tracker's and the ACD's events: the hub's only publisher.

- `screen_pop` when an agent's phone rings (the tracker's `CallOffered`): the caller, the service number,
  the queue and the wait, the customer with VIP flag, last interactions and open tickets, and the caller's
  way through the IVR. The customer is the one the IVR identified (CC_CUSTOMER, looked up when the call
  is queued), else the one the calling number belongs to (looked up when the call starts): the pop is
  ready when the phone rings.
- `call` on every change of a call an agent is on (ringing, connected, held, resumed, disconnected,
  transferred, ended).
- `agent_state` on every ACD state change, `figures` (calls today, average handle time) after each call,
  `queue_stats` (staff) once a second when it changed, `pbx` when the PBX goes down or comes back.
- The `snapshot` a (re)connecting page starts from.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from acd.events import (
    AcdEvent,
    AgentLogoutDeferred,
    AgentPauseDeferred,
    AgentStateChanged,
    WrapUpExtended,
)
from acd.model import AgentState
from callcenter.auth.service import Role, SignedIn
from callcenter.customers.service import CustomerService, CustomerSummary
from callcenter.desktop.calls import CallBook, CallChange, CallStatus, Change, DeskCall
from callcenter.routing.service import RoutingService
from callcenter.ws.hub import Hub
from cti.events import CallQueued, CallStarted, DomainEvent, PbxBooted, PbxShutdown

log = logging.getLogger(__name__)

LOOKUPS_AT_ONCE = 8  # customer lookups in flight (a burst of arrivals must not exhaust the pool)
URGENT_LOOKUPS_AT_ONCE = 4  # ... and those of a phone already ringing, which do not wait behind the others


@dataclass(frozen=True, slots=True)
class Identified:
    summary: CustomerSummary
    by: str  # "ivr": the reference the IVR left; "phone": the calling number
QUEUE_STATS_EVERY = 1.0  # seconds (real time)


@dataclass
class AgentView:
    state: AgentState
    since: float
    reason: str | None = None
    until: float | None = None
    call_id: str | None = None
    pending: str | None = None  # "pause:<reason>" or "logout": asked for while busy
    wrap_up_call: str | None = None  # the call whose after-call work is open
    day: str = ""
    calls_today: int = 0         # answered today
    handled_today: int = 0       # finished today (talk and wrap-up over)
    handle_seconds: float = 0.0  # talk + hold + wrap-up of the finished ones
    open_seconds: float = 0.0    # talk + hold of the call whose wrap-up runs


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class DesktopFeed:
    def __init__(self, book: CallBook, hub: Hub, customers: CustomerService, routing: RoutingService,
                 clock: Callable[[], float], *, simulated: bool, speed: float, dispositions: list[str]) -> None:
        self.book, self.hub, self.customers, self.routing = book, hub, customers, routing
        self.clock = clock
        self.simulated, self.speed, self.dispositions = simulated, speed, dispositions
        self.pbx_up = True
        self.agents: dict[str, AgentView] = {}
        self._lookups: dict[str, asyncio.Future[Identified | None]] = {}  # the latest lookup of each call
        self._looked_up: dict[str, str | None] = {}  # call -> the reference its lookup was for (None: the number)
        self._limit = asyncio.Semaphore(LOOKUPS_AT_ONCE)
        self._urgent = asyncio.Semaphore(URGENT_LOOKUPS_AT_ONCE)
        self._queued: set[asyncio.Task[Any]] = set()  # lookups waiting for their turn
        self._group: asyncio.TaskGroup | None = None
        self._queue_stats: list[dict[str, Any]] = []

    # ---- the tracker's events ------------------------------------------------------------------------
    async def on_call_event(self, event: DomainEvent) -> None:
        self.handle_call_event(event)

    def handle_call_event(self, event: DomainEvent) -> None:
        if isinstance(event, PbxShutdown | PbxBooted):
            self.pbx_up = isinstance(event, PbxBooted)
            self.hub.publish("pbx", {"up": self.pbx_up, "simulated": self.simulated})
        for change in self.book.handle(event):
            if change.change is Change.STARTED and isinstance(event, CallStarted):
                self._look_up(change.call)
                continue
            if (change.change is Change.QUEUED and isinstance(event, CallQueued) and event.customer
                    and event.customer != self._looked_up.get(change.call.call_id)):
                self._identified_by_ivr(change.call, event.customer)
            if change.change is Change.RINGING:
                self._ringing(change)
            if change.change is Change.CONNECTED:
                self._count_call(change)
            if change.change is Change.DISCONNECTED and change.call.connected_at is not None:
                # talk and hold time; the wrap-up that follows is added when it ends
                view = self._agent(change.agents[0])
                view.open_seconds += max(getattr(event, "at", 0.0) - change.call.connected_at, 0.0)
            if change.change is Change.CONSULT_ENDED and change.talked_since is not None:
                view = self._agent(change.agents[0])  # transferred away: the consulting agent's part is over
                view.open_seconds += max(getattr(event, "at", 0.0) - change.talked_since, 0.0)
            if change.change is Change.ENDED:
                self._looked_up.pop(change.call.call_id, None)
                task = self._lookups.pop(change.call.call_id, None)
                if task is not None and not task.done():
                    task.cancel()
            if change.agents:
                self.hub.publish("call", self._call_message(change), change.agents)

    def _call_message(self, change: CallChange) -> dict[str, Any]:
        return {"event": change.change.value, **change.detail, "call": change.call.to_json(self.clock())}

    # ---- the screen pop ------------------------------------------------------------------------------
    @property
    def lookups_pending(self) -> int:
        """Customer lookups started and not finished."""
        return sum(not task.done() for task in self._lookups.values())

    def _identified_by_ivr(self, call: DeskCall, reference: str) -> None:
        """The IVR identified the caller: that customer replaces the number's. Most often it is the
        number's (the IVR looked the caller up by number too), already found: no second lookup then."""
        earlier = self._lookups.get(call.call_id)
        if earlier is not None and earlier.done() and not earlier.cancelled():
            found = earlier.result()
            if found is not None and found.summary.customer.reference == reference:
                self._looked_up[call.call_id] = reference
                same: asyncio.Future[Identified | None] = asyncio.get_running_loop().create_future()
                same.set_result(Identified(found.summary, "ivr"))
                self._lookups[call.call_id] = same
                return
        self._look_up(call)

    def _look_up(self, call: DeskCall, *, urgent: bool = False) -> asyncio.Future[Identified | None] | None:
        """Starts the lookup of the call's customer; it replaces an earlier one (the IVR's identification
        comes after the number's). An urgent one (the phone rings) does not queue behind the others: a
        burst of calls (a resync after a restart announces every call in progress) delays no pop."""
        if self._group is None or call.direction != "inbound" or not (call.caller or call.customer_ref):
            return None
        self._looked_up[call.call_id] = call.customer_ref
        task = self._lookups[call.call_id] = self._group.create_task(
            self._identify(call.call_id, call.caller, call.customer_ref, self._urgent if urgent else self._limit),
            name=f"pop:{call.call_id}")
        self._queued.add(task)
        return task

    async def _identify(self, call_id: str, caller: str | None, reference: str | None,
                        limit: asyncio.Semaphore) -> Identified | None:
        try:
            await limit.acquire()
        finally:
            self._queued.discard(asyncio.current_task())
        try:
            found = await self._find(call_id, caller, reference)
        finally:
            limit.release()
        call = self.book.calls.get(call_id)
        if found is not None and call is not None and self._lookups.get(call_id) is asyncio.current_task():
            call.customer_id = found.summary.customer.id  # the after-call form's customer, popped or not
        return found

    async def _find(self, call_id: str, caller: str | None, reference: str | None) -> Identified | None:
        """The customer of `reference` (what the IVR identified), else of the calling number: one session each."""
        try:
            if reference is not None:
                summary = await self.customers.summary_by_reference(reference)
                if summary is not None:
                    return Identified(summary, "ivr")
                log.warning("screen pop: the IVR identified customer %r for %s, who is not on file", reference, call_id)
            summary = None if caller is None else await self.customers.summary_by_phone(caller)
            return None if summary is None else Identified(summary, "phone")
        except Exception:  # the pop still shows the caller; the lookup failing is logged, not fatal
            log.exception("screen pop: customer lookup for %s failed", call_id)
            return None

    def _ringing(self, change: CallChange) -> None:
        call = change.call
        agent = change.agents[0]  # the agent ringing (the call's, or the one consulted on it)
        lookup = self._lookups.get(call.call_id)
        if lookup is not None and lookup in self._queued:  # still waiting for its turn: this one goes first
            lookup.cancel()
            lookup = self._look_up(call, urgent=True)
        if lookup is None or lookup.done():
            found = lookup.result() if lookup is not None and not lookup.cancelled() else None
            self._pop(call, agent, found)
        elif self._group is not None:  # the lookup is still running: pop as soon as it answers
            self._group.create_task(self._pop_when_found(call, agent, lookup))

    async def _pop_when_found(self, call: DeskCall, agent: str, lookup: asyncio.Future[Identified | None]) -> None:
        found = await asyncio.shield(lookup) if not lookup.done() else lookup.result()
        consulted = call.consultation is not None and call.consultation.target_agent == agent
        if consulted or (call.agent == agent and call.status in (CallStatus.RINGING, CallStatus.TALKING,
                                                                CallStatus.HELD)):
            self._pop(call, agent, found)

    def _pop(self, call: DeskCall, agent: str, found: Identified | None) -> None:
        if found is not None:
            call.customer_id = found.summary.customer.id
        pop = screen_pop(call, agent, found, self.clock())
        call.screen_pop = pop
        self.hub.publish("screen_pop", pop, (agent,))

    # ---- the ACD's events ----------------------------------------------------------------------------
    async def on_acd_event(self, event: AcdEvent) -> None:
        self.handle_acd_event(event)

    def handle_acd_event(self, event: AcdEvent) -> None:
        if isinstance(event, AgentStateChanged):
            view = self._agent(event.agent_id)
            if event.previous is AgentState.WRAP_UP:
                self._call_handled(view, event.at - event.previous_since, event.at)
            elif event.previous is AgentState.ON_CALL and event.state is not AgentState.WRAP_UP:
                self._call_handled(view, 0.0, event.at)
            view.state, view.since, view.reason, view.until = event.state, event.at, event.reason, event.until
            view.call_id = event.call_id
            view.pending = None if event.state in (AgentState.NOT_READY, AgentState.LOGGED_OUT) else view.pending
            if event.state is AgentState.WRAP_UP:
                view.wrap_up_call = event.call_id
            self._publish_state(event.agent_id, view)
            if event.previous in (AgentState.ON_CALL, AgentState.WRAP_UP):
                self._publish_figures(event.agent_id, view)
        elif isinstance(event, WrapUpExtended):
            view = self._agent(event.agent_id)
            view.until = event.until
            self._publish_state(event.agent_id, view)
        elif isinstance(event, AgentPauseDeferred | AgentLogoutDeferred):
            view = self._agent(event.agent_id)
            view.pending = f"pause:{event.reason}" if isinstance(event, AgentPauseDeferred) else "logout"
            self._publish_state(event.agent_id, view)

    def _agent(self, agent_id: str) -> AgentView:
        view = self.agents.get(agent_id)
        if view is None:
            state = self.routing.router.agent_state(agent_id)
            view = self.agents[agent_id] = AgentView(state, self.clock(),
                                                     call_id=self.routing.router.agent_call(agent_id))
        return view

    def agent_json(self, agent_id: str) -> dict[str, Any]:
        view = self._agent(agent_id)
        return {"agent_id": agent_id, "name": self.routing.config.names.get(agent_id, agent_id),
                "state": view.state.value, "since": round(view.since, 1), "reason": view.reason,
                "until": _round(view.until), "call_id": view.call_id, "pending": view.pending,
                "wrap_up_call": view.wrap_up_call if view.state is AgentState.WRAP_UP else None}

    def _publish_state(self, agent_id: str, view: AgentView) -> None:
        self.hub.publish("agent_state", self.agent_json(agent_id), (agent_id,))

    # ---- personal figures ----------------------------------------------------------------------------
    def _today(self, view: AgentView, at: float) -> None:
        day = datetime.fromtimestamp(at, UTC).date().isoformat()
        if view.day != day:
            view.day, view.calls_today, view.handled_today, view.handle_seconds = day, 0, 0, 0.0

    def _count_call(self, change: CallChange) -> None:
        assert change.call.agent is not None
        view = self._agent(change.call.agent)
        self._today(view, self.clock())
        view.calls_today += 1
        self._publish_figures(change.call.agent, view)

    def _call_handled(self, view: AgentView, wrap_up: float, at: float) -> None:
        self._today(view, at)
        view.handle_seconds += view.open_seconds + max(wrap_up, 0.0)
        view.handled_today += 1
        view.open_seconds = 0.0

    def figures_json(self, agent_id: str) -> dict[str, Any]:
        view = self._agent(agent_id)
        self._today(view, self.clock())
        aht = view.handle_seconds / view.handled_today if view.handled_today else None
        return {"agent_id": agent_id, "day": view.day, "calls_today": view.calls_today,
                "handled_today": view.handled_today, "handle_seconds": round(view.handle_seconds, 1),
                "average_handle_seconds": _round(aht)}

    def _publish_figures(self, agent_id: str, view: AgentView) -> None:
        self.hub.publish("figures", self.figures_json(agent_id), (agent_id,))

    # ---- queues (staff) ------------------------------------------------------------------------------
    def queue_stats(self) -> list[dict[str, Any]]:
        router, now = self.routing.router, self.clock()
        out = []
        for queue in self.routing.config.settings.queues:
            waiting = router.waiting_calls(queue.name)
            longest = 0.0
            for call_id in waiting:
                view = router.call(call_id)
                if view is not None:
                    longest = max(longest, now - view.arrived_at)
            out.append({"queue": queue.name, "waiting": len(waiting), "longest_wait": round(longest),
                        "free_agents": len(router.free_agents(queue.name))})
        return out

    # ---- snapshots -----------------------------------------------------------------------------------
    def snapshot(self, signed_in: SignedIn) -> dict[str, Any]:
        user = signed_in.user
        common = {"now": round(self.clock(), 3), "speed": self.speed, "simulated": self.simulated,
                  "pbx_up": self.pbx_up, "dispositions": self.dispositions,
                  "pause_reasons": sorted(self.routing.config.settings.pause_reasons),
                  "me": {"login": user.login, "display_name": user.display_name, "role": user.role.value,
                         "endpoint": user.endpoint}}
        if user.role is Role.AGENT:
            assert user.endpoint is not None
            return {**common, **self.agent_snapshot(user.endpoint)}
        now = self.clock()
        return {**common, "agents": [self.agent_json(a) for a in self.routing.config.agents],
                "queues": self.queue_stats(),
                "calls": [c.to_json(now) for c in self.book.calls.values()]}

    def agent_snapshot(self, agent_id: str) -> dict[str, Any]:
        now = self.clock()
        call = self.book.agent_call(agent_id)
        view = self._agent(agent_id)
        after = self.book.call(view.wrap_up_call) if view.wrap_up_call and view.state is AgentState.WRAP_UP else None
        configured = self.routing.config.agents.get(agent_id)
        return {"agent": self.agent_json(agent_id),
                "queues": list(configured.queues) if configured is not None else [],
                "serving": list(self.routing.serving(agent_id)) if configured is not None else [],
                "figures": self.figures_json(agent_id),
                "call": None if call is None else {**call.to_json(now), "screen_pop": call.screen_pop},
                "after_call": None if after is None else {**after.to_json(now), "screen_pop": after.screen_pop}}

    # ---- the feed's own tasks ------------------------------------------------------------------------
    async def run(self) -> None:
        """Owns the customer lookups and the queue statistics timer until cancelled."""
        async with asyncio.TaskGroup() as group:
            self._group = group
            try:
                while True:
                    stats = self.queue_stats()
                    if stats != self._queue_stats:
                        self._queue_stats = stats
                        self.hub.publish("queue_stats", {"now": round(self.clock(), 1), "queues": stats})
                    await asyncio.sleep(QUEUE_STATS_EVERY)
            finally:
                self._group = None


def screen_pop(call: DeskCall, agent: str, found: Identified | None, now: float) -> dict[str, Any]:
    """The `screen_pop` message body."""
    summary = None if found is None else found.summary
    customer = None if summary is None else summary.customer
    return {
        "call_id": call.call_id, "agent": agent, "caller": call.caller, "caller_name": call.caller_name,
        "dnis": call.dnis, "queue": call.queue, "waited": call.waited(now),
        "ringing_since": _round(call.ringing_since),
        "identified_by": None if found is None else found.by,
        "customer": None if customer is None else {
            "id": customer.id, "reference": customer.reference, "name": customer.name, "company": customer.company,
            "address": customer.address, "segment": customer.segment, "value": customer.value,
            "notes": customer.notes, "phones": [p.number for p in customer.phones]},
        "vip": bool(customer is not None and customer.vip),
        "last_interactions": [] if summary is None else [
            {"at": i.at.isoformat(), "agent": i.agent, "channel": i.channel, "result": i.result, "notes": i.notes,
             "call_id": i.call_id} for i in summary.interactions],
        "open_tickets": [] if summary is None else [
            {"id": t.id, "title": t.title, "description": t.description, "created_at": t.created_at.isoformat()}
            for t in summary.open_tickets],
        # The caller's way through the IVR: the keys the tracker saw, the nodes (CC_IVR_PATH) and what the
        # IVR decided for the ACD (CC_CUSTOMER, CC_PRIORITY, CC_SKILLS, CC_PREFERRED_AGENT).
        "ivr": {"digits": call.digits, "path": list(call.ivr_path), "variables": dict(call.ivr_variables)},
    }

"""Property tests: random streams of agent, caller and clock inputs. Whatever the order, the router
keeps its promises: no agent holds two calls, no caller waits while a matching agent is free, the
service order holds, agent states chain, and every caller's routing ends exactly once."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import time

from hypothesis import given, settings
from hypothesis import strategies as st

from acd import (
    AcdSettings,
    AgentConfig,
    AgentState,
    Call,
    CallbackRule,
    CallPhase,
    ExitAction,
    Opening,
    OpeningHours,
    QueueConfig,
    RelaxationStep,
    Router,
    RoutingPolicy,
    SkillRequirement,
)
from acd.events import (
    AcdEvent,
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallbackDialled,
    CallbackFailed,
    CallExited,
    CallOffered,
    InputIgnored,
)
from acd.skills import matches

QUEUES = (
    QueueConfig("billing", (SkillRequirement("billing", 5),), priority=1, wrap_up=20, ring_timeout=15,
                relaxation=(RelaxationStep(30, lower_by=3), RelaxationStep(60, add_group=(SkillRequirement("sales"),))),
                overflow_to="general", overflow_after=120, callback=CallbackRule(20, 40, 2)),
    QueueConfig("sales", (SkillRequirement("sales"),), policy=RoutingPolicy.ROUND_ROBIN, max_wait=90,
                exit_action=ExitAction.CALLBACK, max_size=4),
    QueueConfig("general", policy=RoutingPolicy.LEAST_CALLS, ring_timeout=10, max_wait=200),
    QueueConfig("vip", (SkillRequirement("billing", 2),), priority=5, policy=RoutingPolicy.BEST_PROFICIENCY,
                join_when_empty=False),
    # closed 22:13:30-22:14:30 UTC every day: the runs start at 22:13:20 and often cross both boundaries
    QueueConfig("support", (SkillRequirement("sales", 2),), overflow_to="vip", overflow_when_no_agents=True,
                hours=OpeningHours("UTC", tuple(p for day in range(7) for p in (
                    Opening(day, time(0), time(22, 13, 30)), Opening(day, time(22, 14, 30), time(0)))))),
)
SETTINGS = AcdSettings(QUEUES, pause_after_misses=2)
AGENTS = (
    AgentConfig("a0", {"billing": 8}, ("billing", "vip")),
    AgentConfig("a1", {"billing": 3, "sales": 2}, ("billing", "sales", "general")),
    AgentConfig("a2", {"sales": 5, "french": 3}, ("sales", "billing")),
    AgentConfig("a3", {"billing": 5, "french": 1}, ("vip", "general", "billing")),
    AgentConfig("a4", {}, ("general",)),
    AgentConfig("a5", {"billing": 2, "sales": 9}, ("sales", "vip", "billing")),
    AgentConfig("a6", {"sales": 4}, ("support", "general")),
)
# what a supervisor may change a logged-in agent to (skills, queues): live, with the indexes following
CHANGES = (
    ({"billing": 9}, ("billing", "vip")),
    ({"sales": 3, "french": 2}, ("sales", "support")),
    ({"billing": 4}, ("general", "billing")),
    ({}, ("vip",)),
    ({"billing": 6, "sales": 6}, ("support", "general", "billing", "vip", "sales")),
)
CALL_SKILLS = ((), (SkillRequirement("french"),), (SkillRequirement("billing", 7),))
TERMINAL = (CallAnswered, CallAbandoned, CallExited)
WAIT, RING, DELAY, TALK = CallPhase.WAITING, CallPhase.OFFERED, CallPhase.DELAYED, CallPhase.CONNECTED
CALL_INPUT_PHASES = {"connect": {RING}, "unanswered": {RING}, "abandon": {WAIT, RING, DELAY}, "end": {TALK},
                     "callback": {WAIT}, "callback_failed": {RING}}
AGENT_INPUT_STATES = {
    "log_in": {AgentState.LOGGED_OUT}, "log_out": set(AgentState) - {AgentState.LOGGED_OUT},
    "change": set(AgentState) - {AgentState.LOGGED_OUT},
    "pause": set(AgentState) - {AgentState.LOGGED_OUT}, "resume": {AgentState.NOT_READY},
    "end_wrap_up": {AgentState.WRAP_UP}, "extend": {AgentState.WRAP_UP},
    # calls the ACD did not route: a transfer straight to the agent, a call they dialled
    "direct_start": {AgentState.AVAILABLE, AgentState.WRAP_UP}, "direct_end": {AgentState.ON_CALL},
    # an attended transfer: consulted on another agent's call, then handed that call
    "consult": {AgentState.AVAILABLE, AgentState.WRAP_UP}, "hand_over": {AgentState.ON_CALL},
}

agent_ops = st.tuples(st.sampled_from(["log_in", "log_out", "pause", "resume", "end_wrap_up", "extend", "change",
                                       "direct_start", "direct_end", "consult", "hand_over"]),
                      st.integers(0, 1000))
call_ops = st.tuples(st.sampled_from(["connect", "unanswered", "abandon", "end", "callback", "callback_failed"]),
                     st.integers(0, 1000))
arrivals = st.tuples(st.just("arrive"), st.integers(0, len(QUEUES) - 1), st.integers(0, 2),
                     st.integers(0, len(CALL_SKILLS) - 1), st.booleans())
callback_arrivals = st.tuples(st.just("callback_arrive"), st.integers(0, len(QUEUES) - 1))  # the IVR's callbacks
advances = st.tuples(st.just("advance"), st.sampled_from([0, 1, 5, 10, 15, 20, 31, 45, 60, 121]))
logins = st.tuples(st.just("log_in"), st.integers(0, 1000))
answers = st.tuples(st.just("connect"), st.integers(0, 1000))
hangups = st.tuples(st.just("end"), st.integers(0, 1000))
logouts = st.tuples(st.just("log_out"), st.integers(0, 1000))
changes = st.tuples(st.just("change"), st.integers(0, 1000))
# the common inputs drawn more often, so that streams reach busy queues, relaxation and callbacks
streams = st.lists(st.one_of(agent_ops, call_ops, arrivals, arrivals, advances, advances, logins, answers, hangups,
                             logouts, changes, callback_arrivals), max_size=120)


@dataclass
class Run:
    router: Router = field(default_factory=lambda: Router(SETTINGS))
    now: float = 1_700_000_000.0
    arrived: list[str] = field(default_factory=list)
    outputs: list[list[AcdEvent]] = field(default_factory=list)

    def step(self, op: tuple[object, ...]) -> list[AcdEvent]:
        r, kind = self.router, op[0]
        if kind == "advance":
            assert isinstance(op[1], int)
            self.now += op[1]
            out = r.tick(self.now)
        elif kind == "arrive":
            q, prio, skills, has_number = op[1:]
            assert isinstance(q, int) and isinstance(prio, int) and isinstance(skills, int)
            call_id = f"c{len(self.arrived)}"
            self.arrived.append(call_id)
            out = r.call_arrived(Call(call_id, QUEUES[q].name, prio, CALL_SKILLS[skills],
                                      number="0600" if has_number else None), self.now)
        elif kind == "callback_arrive":
            assert isinstance(op[1], int)
            call_id = f"c{len(self.arrived)}"
            self.arrived.append(call_id)
            out = r.callback_arrived(Call(call_id, QUEUES[op[1]].name), "0600", self.now)
        elif kind in CALL_INPUT_PHASES:
            assert isinstance(op[1], int)
            # pick among the callers in a phase where this input applies (now and then one that is not)
            phases = CALL_INPUT_PHASES[str(kind)]
            candidates = sorted(v.call_id for v in r.calls() if v.phase in phases) or ["none"]
            call_id = candidates[op[1] % len(candidates)] if op[1] % 10 else f"c{op[1] % 7}"
            method = {"connect": r.call_connected, "unanswered": r.offer_unanswered, "abandon": r.call_abandoned,
                      "end": r.call_ended, "callback": r.request_callback, "callback_failed": r.callback_failed}
            out = method[str(kind)](call_id, self.now)
        else:
            assert isinstance(op[1], int)
            wanted = AGENT_INPUT_STATES[str(kind)]
            candidates = [a for a in AGENTS if r.agent_state(a.agent_id) in wanted] or list(AGENTS)
            config = candidates[op[1] % len(candidates)] if op[1] % 10 else AGENTS[op[1] % len(AGENTS)]
            agent_id = config.agent_id
            skills, queues = CHANGES[op[1] % len(CHANGES)]
            changed = AgentConfig(agent_id, skills, queues)
            out = {"log_in": lambda: r.log_in(config, self.now), "log_out": lambda: r.log_out(agent_id, self.now),
                   "pause": lambda: r.pause(agent_id, "break", self.now),
                   "resume": lambda: r.resume(agent_id, self.now),
                   "end_wrap_up": lambda: r.end_wrap_up(agent_id, self.now),
                   "extend": lambda: r.extend_wrap_up(agent_id, 30, self.now),
                   "change": lambda: r.change_agent(changed, self.now),
                   "direct_start": lambda: r.direct_call_started(agent_id, f"d-{agent_id}", self.now),
                   "direct_end": lambda: r.direct_call_ended(agent_id, r.agent_call(agent_id) or "none", self.now),
                   "consult": lambda: r.direct_call_started(agent_id, self._talking(op[1], agent_id), self.now),
                   "hand_over": lambda: r.call_handed_over(r.agent_call(agent_id) or "none", agent_id, self.now),
                   }[str(kind)]()
        self.outputs.append(out)
        return out

    def _talking(self, pick: int, agent_id: str) -> str:
        """A call some agent talks on (to be consulted on); none: the agent's own direct call."""
        talking = sorted(v.call_id for v in self.router.calls() if v.phase is CallPhase.CONNECTED)
        return talking[pick % len(talking)] if talking else f"d-{agent_id}"

    def drain(self) -> None:
        """Finish every caller still in the router: answer the rung, abandon the waiting, hang up."""
        r = self.router
        for view in r.calls():
            if view.phase is CallPhase.OFFERED:
                self.outputs.append(r.call_connected(view.call_id, self.now))
        for view in r.calls():
            if view.phase is CallPhase.CONNECTED:
                self.outputs.append(r.call_ended(view.call_id, self.now))
            else:
                self.outputs.append(r.call_abandoned(view.call_id, self.now))
        # agents freed by the hangups may have picked callers up meanwhile
        if r.calls():
            self.drain()


def service_key(r: Router, call_id: str, arrived: list[str]) -> tuple[int, int, float, int]:
    view = r.call(call_id)
    assert view is not None
    queue_priority = next(q.priority for q in QUEUES if q.name == view.queue)
    return (-queue_priority, -view.priority, view.arrived_at, arrived.index(call_id))


def check_state(run: Run, out: list[AcdEvent], from_tick: bool) -> None:
    r = run.router
    agents = r.agents()
    views = r.calls()
    holders = Counter(v.agent_id for v in views if v.agent_id is not None)
    assert all(n == 1 for n in holders.values()), holders  # no agent holds two calls
    for view in views:
        if view.agent_id is not None:
            expected = AgentState.ON_CALL if view.phase is CallPhase.CONNECTED else AgentState.RESERVED
            assert r.agent_state(view.agent_id) is expected
            assert r.agent_call(view.agent_id) == view.call_id
    routed = {v.agent_id for v in views}
    for agent_id in agents:  # on a call the ACD does not know: a direct one, or consulted on another's; never offered
        if r.agent_state(agent_id) is AgentState.ON_CALL and agent_id not in routed:
            call = r.agent_call(agent_id)
            consulted = r.call(call or "")
            assert call == f"d-{agent_id}" or (
                consulted is not None and consulted.phase is CallPhase.CONNECTED and consulted.agent_id != agent_id)
    free = {a for a in agents if r.agent_state(a) is AgentState.AVAILABLE}
    for queue in QUEUES:
        assert set(r.free_agents(queue.name)) == {a for a in free if queue.name in agents[a].queues}
    waiting = [v for v in views if v.phase is CallPhase.WAITING]
    for view in waiting:  # the queue's rules for no members and closed hours hold for the callers waiting
        if view.callback_number is not None:
            continue  # a callback waits off the line
        config = next(q for q in QUEUES if q.name == view.queue)
        if not any(view.queue in a.queues for a in agents.values()):
            assert config.join_when_empty and not config.overflow_when_no_agents, view
        assert config.hours is None or config.hours.is_open(run.now), view
    for view in waiting:  # nobody waits while a free agent who matches it is available
        groups = r.call_groups(view.call_id)
        for agent_id in r.free_agents(view.queue):
            assert not matches(agents[agent_id].skills, groups), (view, agent_id)
    if from_tick:
        return
    # the caller given to an agent comes before every caller that agent could still take
    for event in out:
        if isinstance(event, CallOffered | CallbackDialled) and r.call(event.call_id) is not None:
            config = agents[event.agent_id]
            offered = service_key(r, event.call_id, run.arrived)
            for view in waiting:
                if view.queue in config.queues and matches(config.skills, r.call_groups(view.call_id)):
                    assert offered < service_key(r, view.call_id, run.arrived), (event, view)


def check_history(run: Run) -> None:
    states: dict[str, tuple[AgentState, float]] = {}
    ended: Counter[str] = Counter()
    last_at = 0.0
    for out in run.outputs:
        for event in out:
            assert event.at >= last_at
            last_at = event.at
            if isinstance(event, AgentStateChanged):
                previous = states.get(event.agent_id, (AgentState.LOGGED_OUT, event.previous_since))
                if previous[0] is AgentState.LOGGED_OUT:  # a logged-out agent is forgotten: no since to check
                    previous = (AgentState.LOGGED_OUT, event.previous_since)
                assert (event.previous, event.previous_since) == previous, event
                assert event.state is not event.previous or event.state is AgentState.NOT_READY
                states[event.agent_id] = (event.state, event.at)
            elif isinstance(event, InputIgnored):
                continue
            elif hasattr(event, "call_id"):
                assert ended[event.call_id] == 0, f"{event} after the call's routing ended"
                if isinstance(event, TERMINAL) or (isinstance(event, CallbackFailed) and event.retry_at is None):
                    ended[event.call_id] += 1
    assert set(ended) == set(run.arrived)  # every caller ends: answered, abandoned, exited, callback given up
    assert all(n == 1 for n in ended.values())


@settings(max_examples=400, deadline=None)
@given(ops=streams)
def test_random_streams_keep_the_promises(ops: list[tuple[object, ...]]) -> None:
    run = Run()
    for op in ops:
        out = run.step(op)
        check_state(run, out, from_tick=op[0] == "advance")
    run.drain()
    check_state(run, [], from_tick=True)
    assert run.router.calls() == []
    check_history(run)


@settings(max_examples=100, deadline=None)
@given(ops=streams)
def test_same_inputs_same_outputs(ops: list[tuple[object, ...]]) -> None:
    first, second = Run(), Run()
    for op in ops:
        assert first.step(op) == second.step(op)
    assert first.router.next_deadline() == second.router.next_deadline()

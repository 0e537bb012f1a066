"""ACD scenarios: one story each, with the full ordered list of what the router says."""

from __future__ import annotations

from datetime import date

from acd import (
    RING_NO_ANSWER,
    AcdSettings,
    AgentConfig,
    AgentState,
    Call,
    CallbackRule,
    CallPhase,
    ExitAction,
    ExitReason,
    OpeningHours,
    QueueConfig,
    RelaxationStep,
    RestoredAgent,
    RestoredCall,
    Router,
    RoutingPolicy,
    SkillRequirement,
)
from acd.events import (
    AgentChanged,
    AgentLogoutDeferred,
    AgentPauseDeferred,
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
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
    WrapUpExtended,
)

AVAILABLE, RESERVED, ON_CALL = AgentState.AVAILABLE, AgentState.RESERVED, AgentState.ON_CALL
WRAP_UP, NOT_READY, LOGGED_OUT = AgentState.WRAP_UP, AgentState.NOT_READY, AgentState.LOGGED_OUT
BILLING = (SkillRequirement("billing", 3),)


def router(*queues: QueueConfig, misses: int = 1) -> Router:
    return Router(AcdSettings(queues or (QueueConfig("billing", BILLING),), pause_after_misses=misses))


def agent(agent_id: str, level: int = 5, queues: tuple[str, ...] = ("billing",), **skills: int) -> AgentConfig:
    return AgentConfig(agent_id, {"billing": level, **skills}, queues)


def offers(events: list[object]) -> list[tuple[str, str]]:
    return [(e.call_id, e.agent_id) for e in events if isinstance(e, CallOffered | CallbackDialled)]


def test_answer_then_wrap_up_then_available() -> None:
    r = router(QueueConfig("billing", BILLING, wrap_up=15))
    assert r.log_in(agent("a1"), 0) == [AgentStateChanged(0, "a1", AVAILABLE, LOGGED_OUT, 0)]
    assert r.call_arrived(Call("c1", "billing"), 10) == [
        CallQueued(10, "c1", "billing", 0, 1),
        AgentStateChanged(10, "a1", RESERVED, AVAILABLE, 0, call_id="c1"),
        CallOffered(10, "c1", "a1", "billing", 30),
    ]
    assert r.call_connected("c1", 14) == [
        AgentStateChanged(14, "a1", ON_CALL, RESERVED, 10, call_id="c1"),
        CallAnswered(14, "c1", "a1", "billing", 4),
    ]
    assert r.call_ended("c1", 100) == [AgentStateChanged(100, "a1", WRAP_UP, ON_CALL, 14, call_id="c1", until=115)]
    assert r.next_deadline() == 115
    assert r.tick(114) == []
    assert r.tick(115) == [AgentStateChanged(115, "a1", AVAILABLE, WRAP_UP, 100)]
    assert r.next_deadline() is None


def test_ring_no_answer_pauses_the_agent_and_the_caller_keeps_its_place() -> None:
    r = router()
    r.log_in(agent("a1"), 0)
    r.call_arrived(Call("c1", "billing"), 1)
    r.call_arrived(Call("c2", "billing"), 2)
    assert r.waiting_calls("billing") == ["c2"]
    assert r.next_deadline() == 21
    assert r.tick(21) == [
        RingNoAnswer(21, "c1", "a1", "billing", 1),
        AgentStateChanged(21, "a1", NOT_READY, RESERVED, 1, reason=RING_NO_ANSWER),
    ]
    assert r.waiting_calls("billing") == ["c1", "c2"]  # c1 first again: its place is kept
    r.log_in(agent("a2"), 30)
    assert r.call("c1") is not None and r.call("c1").agent_id == "a2"  # type: ignore[union-attr]


def test_offer_unanswered_reported_by_asterisk_goes_to_the_next_free_agent() -> None:
    r = router(misses=3)
    r.log_in(agent("a1"), 0)
    r.log_in(agent("a2"), 1)
    r.call_arrived(Call("c1", "billing"), 5)  # a1: longest idle
    out = r.offer_unanswered("c1", 8)
    # below the auto-pause threshold a1 stays in service, but c1 tries a2 first
    assert out == [
        RingNoAnswer(8, "c1", "a1", "billing", 1),
        AgentStateChanged(8, "a2", RESERVED, AVAILABLE, 1, call_id="c1"),
        CallOffered(8, "c1", "a2", "billing", 28),
        AgentStateChanged(8, "a1", AVAILABLE, RESERVED, 5),
    ]


def test_auto_pause_after_n_consecutive_misses() -> None:
    r = router(misses=2)
    r.log_in(agent("a1"), 0)
    r.call_arrived(Call("c1", "billing"), 1)
    first = r.offer_unanswered("c1", 5)
    assert first[0] == RingNoAnswer(5, "c1", "a1", "billing", 1)
    assert offers(first) == [("c1", "a1")]  # only agent, back in service: rung again
    assert r.tick(25) == [
        RingNoAnswer(25, "c1", "a1", "billing", 2),
        AgentStateChanged(25, "a1", NOT_READY, RESERVED, 5, reason=RING_NO_ANSWER),
    ]
    assert r.resume("a1", 30)[-1] == CallOffered(30, "c1", "a1", "billing", 50)
    r.call_connected("c1", 31)  # an answer resets the count
    r.call_ended("c1", 40)
    r.call_arrived(Call("c2", "billing"), 41)
    assert r.offer_unanswered("c2", 42)[0] == RingNoAnswer(42, "c2", "a1", "billing", 1)


def test_abandon_while_ringing_frees_the_agent_for_the_next_caller() -> None:
    r = router()
    r.log_in(agent("a1"), 0)
    r.call_arrived(Call("c1", "billing"), 1)
    r.call_arrived(Call("c2", "billing"), 2)
    assert r.call_abandoned("c1", 6) == [
        CallAbandoned(6, "c1", "billing", 5, agent_id="a1"),
        AgentStateChanged(6, "a1", AVAILABLE, RESERVED, 1),
        AgentStateChanged(6, "a1", RESERVED, AVAILABLE, 6, call_id="c2"),
        CallOffered(6, "c2", "a1", "billing", 26),
    ]
    assert r.call("c1") is None


def test_abandon_while_waiting() -> None:
    r = router()
    r.call_arrived(Call("c1", "billing"), 1)
    assert r.call_abandoned("c1", 31) == [CallAbandoned(31, "c1", "billing", 30)]
    assert r.waiting_calls("billing") == []
    assert r.next_deadline() is None


def test_overflow_after_timeout_keeps_the_original_arrival() -> None:
    r = router(QueueConfig("billing", BILLING, overflow_to="general", overflow_after=60),
               QueueConfig("general"))
    r.call_arrived(Call("c1", "billing"), 0)
    r.call_arrived(Call("early", "general"), 30)
    assert r.next_deadline() == 60
    assert r.tick(60) == [
        CallOverflowed(60, "c1", "billing", "general", "timeout"),
        CallQueued(60, "c1", "general", 0, 1),  # waited since 0: ahead of "early"
    ]
    assert r.waiting_calls("general") == ["c1", "early"]
    out = r.log_in(AgentConfig("g1", {}, ("general",)), 70)
    assert offers(out) == [("c1", "g1")]
    assert r.call_connected("c1", 72)[-1] == CallAnswered(72, "c1", "g1", "general", 72)


def test_overflow_when_no_agent_is_logged_in_and_no_join_when_empty() -> None:
    r = router(QueueConfig("billing", BILLING, overflow_to="general", overflow_when_no_agents=True),
               QueueConfig("general", join_when_empty=False, exit_action=ExitAction.MESSAGE))
    assert r.call_arrived(Call("c1", "billing"), 0) == [
        CallOverflowed(0, "c1", "billing", "general", "no_agents"),
        CallExited(0, "c1", "general", ExitReason.NO_AGENTS, ExitAction.MESSAGE),
    ]


def test_overflow_loop_ends_in_the_exit_action() -> None:
    r = router(QueueConfig("a", overflow_to="b", overflow_after=10),
               QueueConfig("b", overflow_to="a", overflow_after=10))
    r.call_arrived(Call("c1", "a"), 0)
    r.tick(10)
    assert r.tick(20) == [
        CallOverflowed(20, "c1", "b", "a", "timeout"),
        CallExited(20, "c1", "a", ExitReason.OVERFLOW_LOOP, ExitAction.VOICEMAIL),
    ]


def test_relaxation_lowers_the_level_then_adds_a_skill_group() -> None:
    q = QueueConfig("billing", (SkillRequirement("billing", 8),), relaxation=(
        RelaxationStep(30, lower_by=3), RelaxationStep(90, add_group=(SkillRequirement("sales", 1),))))
    r = router(q)
    r.log_in(agent("junior", level=5), 0)
    r.log_in(AgentConfig("seller", {"sales": 2}, ("billing",)), 0)
    assert offers(r.call_arrived(Call("c1", "billing"), 0)) == []
    assert r.tick(30) == [
        CallRelaxed(30, "c1", "billing", 1),
        AgentStateChanged(30, "junior", RESERVED, AVAILABLE, 0, call_id="c1"),
        CallOffered(30, "c1", "junior", "billing", 50),
    ]
    r2 = router(q)
    r2.log_in(AgentConfig("seller", {"sales": 2}, ("billing",)), 0)
    r2.call_arrived(Call("c2", "billing"), 0)
    assert r2.tick(100) == [
        CallRelaxed(100, "c2", "billing", 1),
        CallRelaxed(100, "c2", "billing", 2),
        AgentStateChanged(100, "seller", RESERVED, AVAILABLE, 0, call_id="c2"),
        CallOffered(100, "c2", "seller", "billing", 120),
    ]


def test_call_skills_apply_to_every_group() -> None:
    q = QueueConfig("billing", BILLING, relaxation=(RelaxationStep(10, add_group=(SkillRequirement("sales"),)),))
    r = router(q)
    r.log_in(AgentConfig("seller", {"sales": 5}, ("billing",)), 0)
    r.call_arrived(Call("fr", "billing", skills=(SkillRequirement("french"),)), 0)
    assert offers(r.tick(10)) == []  # the seller speaks no French
    assert offers(r.log_in(AgentConfig("vendeur", {"sales": 5, "french": 2}, ("billing",)), 11)) == [("fr", "vendeur")]


def test_max_wait_to_voicemail_and_to_callback() -> None:
    r = router(QueueConfig("billing", BILLING, max_wait=120),
               QueueConfig("sales", max_wait=60, exit_action=ExitAction.CALLBACK))
    r.call_arrived(Call("c1", "billing"), 0)
    r.call_arrived(Call("c2", "sales", number="0612345678"), 0)
    r.call_arrived(Call("c3", "sales"), 1)  # no number: cannot be called back
    assert r.tick(200) == [
        CallbackRequested(200, "c2", "sales", "0612345678"),
        CallExited(200, "c3", "sales", ExitReason.MAX_WAIT, ExitAction.VOICEMAIL),
        CallExited(200, "c1", "billing", ExitReason.MAX_WAIT, ExitAction.VOICEMAIL),
    ]
    assert r.waiting_calls("sales") == ["c2"]
    assert r.next_deadline() is None  # a callback has no max wait


def test_max_size_refuses_the_next_caller() -> None:
    r = router(QueueConfig("billing", BILLING, max_size=2, exit_action=ExitAction.MESSAGE))
    r.call_arrived(Call("c1", "billing"), 0)
    r.call_arrived(Call("c2", "billing"), 1)
    assert r.call_arrived(Call("c3", "billing"), 2) == [
        CallExited(2, "c3", "billing", ExitReason.FULL, ExitAction.MESSAGE)]
    assert r.call("c3") is None
    r.call_abandoned("c1", 3)
    assert r.call_arrived(Call("c4", "billing"), 4) == [CallQueued(4, "c4", "billing", 0, 2)]


def test_closed_hours_and_holidays() -> None:
    # 2024-03-04 is a Monday; 08:00 in Paris (winter) is 07:00 UTC
    hours = OpeningHours.weekly("Europe/Paris", "mon-fri", "08:00", "18:00", holidays=frozenset({date(2024, 3, 5)}))
    r = router(QueueConfig("billing", BILLING, hours=hours))
    monday_0759 = 1709535540.0
    assert r.call_arrived(Call("early", "billing"), monday_0759) == [
        CallExited(monday_0759, "early", "billing", ExitReason.CLOSED, ExitAction.VOICEMAIL)]
    assert isinstance(r.call_arrived(Call("on-time", "billing"), monday_0759 + 60)[0], CallQueued)
    tuesday_noon = monday_0759 + 86400 + 4 * 3600
    assert r.call_arrived(Call("holiday", "billing"), tuesday_noon)[0].reason is ExitReason.CLOSED  # type: ignore[union-attr]


def test_callback_reserves_the_agent_first_then_dials_and_retries() -> None:
    q = QueueConfig("billing", BILLING, callback=CallbackRule(dial_timeout=25, retry_after=300, max_attempts=2))
    r = router(q)
    r.call_arrived(Call("c1", "billing", number="0611"), 0)
    r.call_arrived(Call("c2", "billing"), 5)
    assert r.request_callback("c1", 10) == [CallbackRequested(10, "c1", "billing", "0611")]
    assert r.position("c1") == 1 and r.position("c2") == 2  # kept its place
    assert r.log_in(agent("a1"), 20) == [
        AgentStateChanged(20, "a1", AVAILABLE, LOGGED_OUT, 20),
        AgentStateChanged(20, "a1", RESERVED, AVAILABLE, 20, call_id="c1"),
        CallbackDialled(20, "c1", "a1", "billing", "0611", 1, 45),
    ]
    assert r.callback_failed("c1", 40) == [
        CallbackFailed(40, "c1", "a1", "billing", 1, 340),
        AgentStateChanged(40, "a1", AVAILABLE, RESERVED, 20),
        AgentStateChanged(40, "a1", RESERVED, AVAILABLE, 40, call_id="c2"),
        CallOffered(40, "c2", "a1", "billing", 60),
    ]
    r.call_connected("c2", 41)
    assert r.call("c1").phase is CallPhase.DELAYED  # type: ignore[union-attr]
    assert r.tick(340) == []  # back in the queue, no free agent
    assert r.position("c1") == 1
    r.call_ended("c2", 400)
    assert r.next_deadline() == 425  # second attempt: dial timeout
    assert r.tick(425) == [
        CallbackFailed(425, "c1", "a1", "billing", 2, None),
        AgentStateChanged(425, "a1", AVAILABLE, RESERVED, 400),
    ]
    assert r.call("c1") is None


def test_callback_answered() -> None:
    r = router()
    r.call_arrived(Call("c1", "billing"), 0)
    r.request_callback("c1", 5, number="0622")
    r.log_in(agent("a1"), 60)
    assert r.call_connected("c1", 70)[-1] == CallAnswered(70, "c1", "a1", "billing", 70, callback=True)


def test_never_more_callbacks_dialled_than_free_agents() -> None:
    r = router()
    for n in range(5):
        r.call_arrived(Call(f"c{n}", "billing", number=f"06{n}"), n)
        r.request_callback(f"c{n}", 10)
    out = r.log_in(agent("a1"), 20) + r.log_in(agent("a2"), 21)
    assert offers(out) == [("c0", "a1"), ("c1", "a2")]


def test_wrap_up_end_early_and_extend() -> None:
    r = router(QueueConfig("billing", BILLING, wrap_up=30))
    r.log_in(agent("a1"), 0)
    r.log_in(agent("a2"), 0)
    for agent_id, call_id in (("a1", "c1"), ("a2", "c2")):
        assert offers(r.call_arrived(Call(call_id, "billing"), 1)) == [(call_id, agent_id)]
        r.call_connected(call_id, 2)
        r.call_ended(call_id, 10)
    assert r.end_wrap_up("a1", 15) == [AgentStateChanged(15, "a1", AVAILABLE, WRAP_UP, 10)]
    assert r.extend_wrap_up("a2", 60, 20) == [WrapUpExtended(20, "a2", 100)]
    assert r.tick(99) == []
    assert r.tick(100) == [AgentStateChanged(100, "a2", AVAILABLE, WRAP_UP, 10)]
    assert isinstance(r.extend_wrap_up("a2", 10, 101)[0], InputIgnored)


def test_pause_asked_during_a_call_starts_after_it() -> None:
    r = router(QueueConfig("billing", BILLING, wrap_up=5))
    r.log_in(agent("a1"), 0)
    r.call_arrived(Call("c1", "billing"), 1)
    r.call_connected("c1", 2)
    assert r.pause("a1", "lunch", 3) == [AgentPauseDeferred(3, "a1", "lunch")]
    r.call_ended("c1", 10)
    assert r.tick(15) == [AgentStateChanged(15, "a1", NOT_READY, WRAP_UP, 10, reason="lunch")]
    assert isinstance(r.pause("a1", "nap", 16)[0], InputIgnored)  # not a configured reason code


def test_restart_mid_queue_nobody_lost_nobody_offered_twice() -> None:
    q = QueueConfig("billing", BILLING, wrap_up=10)
    r = router(q)
    agents = [RestoredAgent(agent("talking"), since=50), RestoredAgent(agent("ringing"), since=50),
              RestoredAgent(agent("free1"), since=40), RestoredAgent(agent("free2"), since=60),
              RestoredAgent(agent("paused"), AgentState.NOT_READY, 50, "break")]
    calls = [RestoredCall(Call("t", "billing"), arrived_at=10, agent_id="talking", answered=True),
             RestoredCall(Call("r", "billing"), arrived_at=20, agent_id="ringing"),
             RestoredCall(Call("w3", "billing"), arrived_at=70),
             RestoredCall(Call("w1", "billing"), arrived_at=30),
             RestoredCall(Call("vip", "billing", priority=5), arrived_at=90),
             RestoredCall(Call("w2", "billing"), arrived_at=40)]
    out = r.restore(agents, calls, 100)
    # VIP first, then the longest waiting; longest-idle agent first; "r" is not offered again
    assert offers(out) == [("vip", "free1"), ("w1", "free2")]
    assert r.waiting_calls("billing") == ["w2", "w3"]
    assert r.agent_call("talking") == "t" and r.agent_state("paused") is NOT_READY
    r.call_connected("vip", 105)
    r.call_connected("w1", 106)
    assert r.tick(120)[0] == RingNoAnswer(120, "r", "ringing", "billing", 1)
    assert r.waiting_calls("billing") == ["r", "w2", "w3"]
    assert r.call_ended("t", 130)[0].state is WRAP_UP  # type: ignore[union-attr]


def test_multi_queue_agent_takes_queue_priority_then_call_priority_then_wait() -> None:
    r = router(QueueConfig("gold", priority=10), QueueConfig("std"))
    r.call_arrived(Call("std-vip", "std", priority=9), 0)
    r.call_arrived(Call("gold-late", "gold"), 50)
    r.call_arrived(Call("gold-early", "gold"), 40)
    both = ("gold", "std")
    assert offers(r.log_in(AgentConfig("a1", {}, both), 60)) == [("gold-early", "a1")]
    assert offers(r.log_in(AgentConfig("a2", {}, both), 61)) == [("gold-late", "a2")]
    assert offers(r.log_in(AgentConfig("a3", {}, both), 62)) == [("std-vip", "a3")]


def test_policies_pick_among_free_agents() -> None:
    def first_offer(policy: RoutingPolicy, setup: list[tuple[str, int, float]]) -> str:
        r = router(QueueConfig("q", BILLING, policy=policy))
        for agent_id, level, at in setup:
            r.log_in(AgentConfig(agent_id, {"billing": level}, ("q",)), at)
        return offers(r.call_arrived(Call("c", "q"), 100))[0][1]

    setup = [("b", 4, 10.0), ("a", 9, 20.0), ("c", 4, 5.0)]
    assert first_offer(RoutingPolicy.LONGEST_IDLE, setup) == "c"
    assert first_offer(RoutingPolicy.BEST_PROFICIENCY, setup) == "a"
    assert first_offer(RoutingPolicy.ROUND_ROBIN, setup) == "a"  # nobody offered yet: by id
    assert first_offer(RoutingPolicy.LAST_AGENT, setup) == "c"


def test_round_robin_and_least_calls_rotate() -> None:
    for policy in (RoutingPolicy.ROUND_ROBIN, RoutingPolicy.LEAST_CALLS):
        r = router(QueueConfig("q", policy=policy))
        for agent_id in ("a", "b", "c"):
            r.log_in(AgentConfig(agent_id, {}, ("q",)), 0)
        served = []
        for n in range(6):
            call_id = f"c{n}"
            served += [agent_id for _, agent_id in offers(r.call_arrived(Call(call_id, "q"), 10 + n))]
            r.call_connected(call_id, 10 + n)
            r.call_ended(call_id, 10 + n)
        # longest idle would give a,a,a... here: each agent ends the call at once and is idle least
        assert served == ["a", "b", "c", "a", "b", "c"], policy


def test_last_agent_serves_the_same_customer_within_n_days() -> None:
    r = router(QueueConfig("q", policy=RoutingPolicy.LAST_AGENT, last_agent_days=2))
    for agent_id in ("a", "b"):
        r.log_in(AgentConfig(agent_id, {}, ("q",)), 0)
    r.remember_last_agent("cust", "b", 0)
    assert offers(r.call_arrived(Call("c1", "q", customer_id="cust"), 100)) == [("c1", "b")]
    r.call_abandoned("c1", 101)
    assert offers(r.call_arrived(Call("c2", "q", customer_id="cust"), 3 * 86400)) == [("c2", "a")]


def test_position_and_expected_wait_from_live_rate() -> None:
    r = router(QueueConfig("q"))
    r.log_in(AgentConfig("a", {}, ("q",)), 0)
    assert r.expected_wait("none", 0) is None
    for n in range(4):  # 4 answers in 240 s: one a minute
        r.call_arrived(Call(f"s{n}", "q"), 60 * n)
        r.call_connected(f"s{n}", 60 * n)
        r.call_ended(f"s{n}", 60 * n + 59)
    r.pause("a", "break", 239)
    for n in range(3):
        r.call_arrived(Call(f"w{n}", "q", priority=1 if n == 2 else 0), 240)
    assert [r.position(f"w{n}") for n in range(3)] == [2, 3, 1]
    assert r.expected_wait("w0", 240) == 120.0


def test_bad_inputs_are_reported_not_raised() -> None:
    r = router()
    assert isinstance(r.call_connected("ghost", 0)[0], InputIgnored)
    assert isinstance(r.log_out("ghost", 0)[0], InputIgnored)
    assert isinstance(r.call_arrived(Call("c", "nowhere"), 0)[0], InputIgnored)
    r.log_in(agent("a1"), 0)
    assert isinstance(r.log_in(agent("a1"), 1)[0], InputIgnored)
    r.call_arrived(Call("c", "billing"), 2)
    assert isinstance(r.change_agent(agent("ghost"), 3)[0], InputIgnored)  # not logged in
    assert isinstance(r.change_agent(agent("a1", queues=("nowhere",)), 3)[0], InputIgnored)
    assert isinstance(r.call_arrived(Call("c", "billing"), 4)[0], InputIgnored)


def test_freed_agent_takes_the_best_caller_across_requirement_buckets() -> None:
    r = router(QueueConfig("q"))
    french = (SkillRequirement("french"),)
    r.call_arrived(Call("plain-late", "q"), 30)
    r.call_arrived(Call("french-early", "q", skills=french), 10)
    r.call_arrived(Call("german", "q", skills=(SkillRequirement("german"),)), 0)  # the agent cannot take it
    r.call_arrived(Call("plain-vip", "q", priority=2), 40)
    polyglot = AgentConfig("a", {"french": 3}, ("q",))
    assert offers(r.log_in(polyglot, 50)) == [("plain-vip", "a")]
    # freed again: french-early (arrived at 10) beats plain-late (30), in another bucket
    assert offers(r.call_abandoned("plain-vip", 51)) == [("french-early", "a")]
    assert r.waiting_calls("q") == ["german", "plain-late"]


def test_supervisor_gives_a_free_agent_a_skill_and_a_waiting_caller_is_offered_at_once() -> None:
    r = router(QueueConfig("billing", BILLING), QueueConfig("sales", (SkillRequirement("sales", 2),)))
    r.log_in(agent("a1", level=2), 0)  # below billing's level 3
    r.call_arrived(Call("c1", "billing"), 5)
    r.call_arrived(Call("s1", "sales"), 6)
    assert r.free_agents("billing") == ["a1"]
    change = agent("a1", level=4)
    assert r.change_agent(change, 10) == [
        AgentChanged(10, "a1", change.skills, ("billing",)),
        AgentStateChanged(10, "a1", RESERVED, AVAILABLE, 0, call_id="c1"),
        CallOffered(10, "c1", "a1", "billing", 30),
    ]
    assert r.free_agents("billing") == []
    # a new queue and skill while ringing: the call goes on, the change counts from the next one
    both = agent("a1", level=4, queues=("billing", "sales"), sales=5)
    assert r.change_agent(both, 11) == [AgentChanged(11, "a1", both.skills, ("billing", "sales"))]
    r.call_connected("c1", 12)
    assert offers(r.call_ended("c1", 20)) == [("s1", "a1")]


def test_supervisor_moves_a_free_agent_between_queues_and_the_indexes_follow() -> None:
    r = router(QueueConfig("billing", BILLING, policy=RoutingPolicy.BEST_PROFICIENCY), QueueConfig("sales"))
    r.log_in(agent("a1", level=4), 0)
    r.log_in(agent("a2", level=6), 1)
    assert r.free_agents("billing") == ["a2", "a1"]
    r.change_agent(agent("a1", level=9, queues=("billing", "sales")), 2)
    assert r.free_agents("billing") == ["a1", "a2"]  # re-keyed by the new level
    assert r.free_agents("sales") == ["a1"]
    r.change_agent(agent("a1", level=9, queues=("sales",)), 3)
    assert r.free_agents("billing") == ["a2"]
    assert offers(r.call_arrived(Call("c1", "billing"), 4)) == [("c1", "a2")]
    assert offers(r.call_arrived(Call("c2", "sales"), 5)) == [("c2", "a1")]


def test_supervisor_takes_the_last_agent_out_of_a_queue_that_does_not_keep_callers_when_empty() -> None:
    r = router(QueueConfig("billing", BILLING, join_when_empty=False, exit_action=ExitAction.MESSAGE),
               QueueConfig("sales"))
    r.log_in(agent("a1", level=1), 0)  # a member, but cannot take billing callers
    r.call_arrived(Call("c1", "billing"), 1)
    moved = agent("a1", level=1, queues=("sales",))
    assert r.change_agent(moved, 2) == [
        AgentChanged(2, "a1", moved.skills, ("sales",)),
        CallExited(2, "c1", "billing", ExitReason.NO_AGENTS, ExitAction.MESSAGE),
    ]


def test_change_agent_while_paused_applies_when_the_agent_resumes() -> None:
    r = router(QueueConfig("billing", BILLING))
    r.log_in(agent("a1", level=1), 0, reason="break")
    r.call_arrived(Call("c1", "billing"), 1)
    assert len(r.change_agent(agent("a1", level=5), 2)) == 1  # AgentChanged only: not ready
    assert offers(r.resume("a1", 3)) == [("c1", "a1")]


def test_logout_while_ringing_withdraws_the_offer_and_the_caller_keeps_its_place() -> None:
    r = router(misses=1)
    r.log_in(agent("a1"), 0)
    r.call_arrived(Call("c1", "billing"), 1)   # rings a1
    r.call_arrived(Call("c2", "billing"), 2)   # waits
    assert r.log_out("a1", 5) == [
        OfferWithdrawn(5, "c1", "a1", "billing", "agent_logged_out"),
        AgentStateChanged(5, "a1", LOGGED_OUT, RESERVED, 1),
    ]
    assert r.waiting_calls("billing") == ["c1", "c2"]  # c1 first again
    assert r.tick(21) == []  # the ring timer is void
    # another agent free: the withdrawn caller goes to it before the agent logs out
    r.log_in(agent("a2"), 30)  # takes c1
    r.log_in(agent("a3"), 31)  # takes c2
    r.call_arrived(Call("c3", "billing"), 32)
    r.call_abandoned("c1", 33)
    r.call_connected("c2", 33)
    assert r.agent_call("a2") == "c3"
    r.log_in(agent("a4"), 34)
    assert r.log_out("a2", 35) == [
        OfferWithdrawn(35, "c3", "a2", "billing", "agent_logged_out"),
        AgentStateChanged(35, "a4", RESERVED, AVAILABLE, 34, call_id="c3"),
        CallOffered(35, "c3", "a4", "billing", 55),
        AgentStateChanged(35, "a2", LOGGED_OUT, RESERVED, 33),
    ]


def test_logout_while_a_callback_is_dialled_withdraws_it_without_counting_the_attempt() -> None:
    r = router(QueueConfig("billing", BILLING, callback=CallbackRule(max_attempts=1)))
    r.call_arrived(Call("c1", "billing", number="0611"), 0)
    r.request_callback("c1", 1)
    r.log_in(agent("a1"), 2)
    assert r.log_out("a1", 3) == [
        OfferWithdrawn(3, "c1", "a1", "billing", "agent_logged_out"),
        AgentStateChanged(3, "a1", LOGGED_OUT, RESERVED, 2),
    ]
    assert r.log_in(agent("a2"), 4)[-1] == CallbackDialled(4, "c1", "a2", "billing", "0611", 1, 34)


def test_logout_on_a_call_waits_for_the_call_to_end_without_wrap_up() -> None:
    r = router(QueueConfig("billing", BILLING, wrap_up=30))
    r.log_in(agent("a1"), 0)
    r.call_arrived(Call("c1", "billing"), 1)
    r.call_connected("c1", 2)
    assert r.log_out("a1", 3) == [AgentLogoutDeferred(3, "a1")]
    assert isinstance(r.log_out("a1", 4)[0], InputIgnored)  # asked already
    r.call_arrived(Call("c2", "billing"), 5)
    assert r.call_ended("c1", 10) == [AgentStateChanged(10, "a1", LOGGED_OUT, ON_CALL, 2)]
    assert r.agent_state("a1") is LOGGED_OUT and r.waiting_calls("billing") == ["c2"]
    assert r.next_deadline() is None


def test_resume_during_the_call_cancels_the_deferred_logout() -> None:
    r = router()
    r.log_in(agent("a1"), 0)
    r.call_arrived(Call("c1", "billing"), 1)
    r.call_connected("c1", 2)
    r.log_out("a1", 3)
    assert r.resume("a1", 4) == []
    assert r.call_ended("c1", 10) == [AgentStateChanged(10, "a1", AVAILABLE, ON_CALL, 2)]


def test_last_agent_logging_out_moves_the_waiting_callers_by_the_queue_rules() -> None:
    r = router(QueueConfig("billing", BILLING, overflow_to="general", overflow_when_no_agents=True),
               QueueConfig("general", join_when_empty=False, exit_action=ExitAction.MESSAGE),
               QueueConfig("sales", join_when_empty=False))
    r.log_in(agent("a1", level=1, queues=("billing", "general")), 0)  # too junior for billing
    r.log_in(agent("a2", level=1, queues=("sales",), sales=1), 0)
    r.pause("a2", "break", 0)
    r.call_arrived(Call("c1", "billing"), 1)
    r.call_arrived(Call("c2", "billing"), 2)
    r.call_arrived(Call("s1", "sales"), 3)
    r.call_arrived(Call("s2", "sales", number="0611"), 4)
    r.request_callback("s2", 5)
    r.log_out("a2", 6)  # sales: the caller on the line leaves, the callback stays
    assert r.waiting_calls("sales") == ["s2"]
    assert r.log_out("a1", 10) == [
        AgentStateChanged(10, "a1", LOGGED_OUT, AVAILABLE, 0),
        CallOverflowed(10, "c1", "billing", "general", "no_agents"),
        CallExited(10, "c1", "general", ExitReason.NO_AGENTS, ExitAction.MESSAGE),
        CallOverflowed(10, "c2", "billing", "general", "no_agents"),
        CallExited(10, "c2", "general", ExitReason.NO_AGENTS, ExitAction.MESSAGE),
    ]


def test_queue_closing_sends_the_waiting_callers_to_its_exit_at_the_next_tick() -> None:
    # 2024-03-04 is a Monday; 18:00 in Paris (winter) is 17:00 UTC
    hours = OpeningHours.weekly("Europe/Paris", "mon-fri", "08:00", "18:00")
    r = router(QueueConfig("billing", BILLING, hours=hours, exit_action=ExitAction.MESSAGE, max_wait=7200))
    monday_1730 = 1709569800.0
    closing = monday_1730 + 1800
    r.call_arrived(Call("c1", "billing"), monday_1730)
    r.call_arrived(Call("c2", "billing", number="0611"), monday_1730 + 10)
    r.request_callback("c2", monday_1730 + 20)
    r.call_arrived(Call("c3", "billing"), monday_1730 + 30)
    assert r.next_deadline() == closing  # before c1's max wait
    assert r.tick(closing - 1) == []
    assert r.tick(closing) == [
        CallExited(closing, "c1", "billing", ExitReason.CLOSED, ExitAction.MESSAGE),
        CallExited(closing, "c3", "billing", ExitReason.CLOSED, ExitAction.MESSAGE),
    ]
    assert r.waiting_calls("billing") == ["c2"]  # a callback waits off the line for the morning
    assert r.next_deadline() is None
    tuesday_0800 = closing + 14 * 3600
    r.call_arrived(Call("c4", "billing"), tuesday_0800)
    assert r.next_deadline() == tuesday_0800 + 7200  # max wait first, then the closing at 18:00
    r.call_abandoned("c4", tuesday_0800 + 1)
    assert r.next_deadline() == tuesday_0800 + 10 * 3600


def test_caller_rung_when_the_queue_closed_leaves_if_the_agent_does_not_answer() -> None:
    hours = OpeningHours.weekly("Europe/Paris", "mon-fri", "08:00", "18:00")
    r = router(QueueConfig("billing", BILLING, hours=hours))
    closing = 1709571600.0
    r.log_in(agent("a1"), closing - 10)
    r.call_arrived(Call("c1", "billing"), closing - 5)
    assert r.tick(closing) == []  # ringing: not a waiting caller
    assert r.tick(closing + 15) == [
        RingNoAnswer(closing + 15, "c1", "a1", "billing", 1),
        AgentStateChanged(closing + 15, "a1", NOT_READY, RESERVED, closing - 5, reason=RING_NO_ANSWER),
        CallExited(closing + 15, "c1", "billing", ExitReason.CLOSED, ExitAction.VOICEMAIL),
    ]


def test_restart_keeps_the_wrap_up_time_left() -> None:
    r = router(QueueConfig("billing", BILLING, wrap_up=60))
    agents = [RestoredAgent(agent("writing"), WRAP_UP, since=80, wrap_up_until=140),
              RestoredAgent(agent("done"), WRAP_UP, since=20, wrap_up_until=80)]
    calls = [RestoredCall(Call("w1", "billing"), arrived_at=90)]
    assert r.restore(agents, calls, 100) == [  # "done" ended its wrap-up during the restart
        AgentStateChanged(100, "done", AVAILABLE, WRAP_UP, 20),
        AgentStateChanged(100, "done", RESERVED, AVAILABLE, 100, call_id="w1"),
        CallOffered(100, "w1", "done", "billing", 120),
    ]
    assert r.agent_state("writing") is WRAP_UP
    r.call_connected("w1", 105)
    assert r.extend_wrap_up("writing", 10, 110) == [WrapUpExtended(110, "writing", 150)]
    assert r.tick(150)[-1] == AgentStateChanged(150, "writing", AVAILABLE, WRAP_UP, 80)


def test_restore_refuses_a_wrap_up_without_its_end() -> None:
    r = router()
    try:
        r.restore([RestoredAgent(agent("a1"), WRAP_UP, since=10)], [], 20)
    except ValueError as exc:
        assert "wrap_up_until" in str(exc)
    else:
        raise AssertionError("restore accepted a wrap-up without its end")


def test_hours_that_never_close_are_looked_at_again_after_the_horizon_not_on_every_arrival() -> None:
    always = OpeningHours.weekly("UTC", "mon-sun", "00:00", "00:00")
    r = router(QueueConfig("billing", BILLING, hours=always))
    r.call_arrived(Call("c1", "billing"), 1000)
    r.call_arrived(Call("c2", "billing"), 2000)
    horizon = r.next_deadline()
    assert horizon is not None and horizon - 1000 > 365 * 86400  # armed once, at the first arrival
    assert r.tick(horizon) == [] and r.next_deadline() == 2 * horizon - 1000  # and again then
    assert r.waiting_calls("billing") == ["c1", "c2"]


def test_a_callback_from_the_ivr_joins_the_queue_as_a_callback_and_meets_its_rules() -> None:
    q = QueueConfig("billing", BILLING, callback=CallbackRule(dial_timeout=25, retry_after=300, max_attempts=2))
    r = router(q)
    r.call_arrived(Call("c1", "billing"), 0)
    assert r.callback_arrived(Call("cb", "billing"), "0611", 5) == [
        CallbackRequested(5, "cb", "billing", "0611"), CallQueued(5, "cb", "billing", 0, 2)]
    assert r.position("cb") == 2  # behind the caller who came first
    r.call_abandoned("c1", 6)  # the caller ahead hangs up: the callback is next
    out = r.log_in(agent("a1"), 10)
    assert CallbackDialled(10, "cb", "a1", "billing", "0611", 1, 35) in out
    assert [type(e).__name__ for e in r.callback_arrived(Call("cb", "billing"), "0611", 11)] == ["InputIgnored"]
    assert [type(e).__name__ for e in r.callback_arrived(Call("x", "billing"), "", 11)] == ["InputIgnored"]
    assert [type(e).__name__ for e in r.callback_arrived(Call("y", "nowhere"), "0611", 11)] == ["InputIgnored"]


def test_the_preferred_agent_is_offered_when_free_else_the_queues_policy_applies() -> None:
    q = QueueConfig("billing", BILLING)
    r = router(q)
    r.log_in(agent("a1"), 0)
    r.log_in(agent("a2"), 1)  # a1 idle longer: the policy's pick
    out = r.call_arrived(Call("c1", "billing", preferred_agent="a2"), 5)
    assert [(e.call_id, e.agent_id) for e in out if isinstance(e, CallOffered)] == [("c1", "a2")]
    out = r.call_arrived(Call("c2", "billing", preferred_agent="a2"), 6)  # a2 is ringing: not free
    assert [(e.call_id, e.agent_id) for e in out if isinstance(e, CallOffered)] == [("c2", "a1")]
    out = r.call_arrived(Call("c3", "billing", preferred_agent="nobody"), 7)  # an unknown name changes nothing
    assert [type(e).__name__ for e in out] == ["CallQueued"]


def test_an_attended_transfer_hands_the_call_to_the_agent_consulted() -> None:
    """a1 talks to c1 and consults a2 (a2's phone rings: busy from then on); the transfer completes: a1's
    conversation is over (wrap-up), c1 is a2's; its end gives a2 the queue's wrap-up."""
    r = router(QueueConfig("billing", BILLING, wrap_up=15))
    r.log_in(agent("a1"), 0)
    r.call_arrived(Call("c1", "billing"), 1)
    r.call_connected("c1", 2)
    r.log_in(agent("a2"), 3)
    assert r.direct_call_started("a2", "c1", 10) == [AgentStateChanged(10, "a2", ON_CALL, AVAILABLE, 3, call_id="c1")]
    assert r.call_arrived(Call("c2", "billing"), 11) == [CallQueued(11, "c2", "billing", 0, 1)]  # nobody free
    assert r.call_handed_over("c1", "a2", 20) == [
        AgentStateChanged(20, "a1", WRAP_UP, ON_CALL, 2, call_id="c1", until=35)]
    view = r.call("c1")
    assert view is not None and (view.agent_id, r.agent_state("a2")) == ("a2", ON_CALL)
    assert r.call_ended("c1", 50) == [AgentStateChanged(50, "a2", WRAP_UP, ON_CALL, 10, call_id="c1", until=65)]


def test_a_consultation_that_ends_without_a_transfer_frees_the_agent_consulted() -> None:
    """Cancelled (or unanswered): a2 is ready again, a1 still talks to c1. Consulted on a call, a2 is also
    free when c1 ends meanwhile. A call still ringing or waiting is not one to be consulted on."""
    r = router(QueueConfig("billing", BILLING, wrap_up=15))
    r.log_in(agent("a1"), 0)
    r.call_arrived(Call("c1", "billing"), 1)  # a1's phone rings
    r.log_in(agent("a2"), 1)
    assert r.direct_call_started("a2", "c1", 1) == [InputIgnored(1, "direct_call_started", "c1",
                                                                 "a call the ACD routes")]
    r.call_connected("c1", 2)
    r.direct_call_started("a2", "c1", 10)
    assert r.direct_call_ended("a2", "c1", 12) == [AgentStateChanged(12, "a2", AVAILABLE, ON_CALL, 10)]
    assert r.direct_call_ended("a1", "c1", 12)[0].reason == "agent is on_call"  # c1 is a1's own: not so
    assert r.agent_state("a1") is ON_CALL
    r.direct_call_started("a2", "c1", 20)
    assert r.call_ended("c1", 30) == [AgentStateChanged(30, "a1", WRAP_UP, ON_CALL, 2, call_id="c1", until=45),
                                      AgentStateChanged(30, "a2", AVAILABLE, ON_CALL, 20)]

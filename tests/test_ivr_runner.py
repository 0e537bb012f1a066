"""The runner, driven like `callcenter ivr simulate`: every shipped flow end to end, every node kind,
a caller hanging up mid-command, and the commands on the wire."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from callcenter.ivr.cli import load
from ivr.agi import parse_result
from ivr.effects import AgentInfo, Command, CustomerInfo, SaveSurvey
from ivr.loader import parse_flow
from ivr.model import KINDS
from ivr.prompts import ASTERISK_SOUNDS, PromptStore
from ivr.runner import CallInfo, Runner
from ivr.simulate import Script, simulate

ROOT = Path(__file__).resolve().parent.parent
SHIPPED, _ = load(sorted((ROOT / "config" / "ivr").glob("*.yaml")), PromptStore(ROOT / "var" / "none", ASTERISK_SOUNDS))
VIP = CustomerInfo("C100", "Ada Vip", True)


def test_the_shipped_flows_load_cleanly() -> None:
    flows, problems = load(sorted((ROOT / "config" / "ivr").glob("*.yaml")),
                           PromptStore(ROOT / "var" / "none", ASTERISK_SOUNDS))
    assert problems == []
    assert set(flows) == {"main", "fault", "survey"}


def test_main_menu_vip_by_calling_number() -> None:
    t = simulate(SHIPPED, SHIPPED["main"], Script(ani="5551234", digits=["3"], customers={"5551234": VIP}))
    assert t.lines == [
        "call from 5551234 to 8005550100: flow 'main' (" + SHIPPED["main"].source + ")",
        "[identify]",
        "  customer lookup by phone 5551234: C100 Ada Vip (VIP)",
        "[vip]", "[vip_priority]", "[hours]", "[menu]",
        "  caller hears 'hello-world' and presses 3",
        "[billing]",
        "outcome: queue billing (skills billing:40, priority 10); customer C100",
    ]
    assert t.variables == {"CC_QUEUE": "billing", "CC_SKILLS": "billing:40", "CC_PRIORITY": "10",
                           "CC_CUSTOMER": "C100", "CC_IVR_OUTCOME": "queue",
                           "CC_IVR_PATH": "identify,vip,vip_priority,hours,menu,billing"}


def test_main_menu_unknown_caller_wrong_keys_then_the_general_queue() -> None:
    t = simulate(SHIPPED, SHIPPED["main"], Script(digits=["7", "", "9"]))
    assert t.lines[-6:] == [
        "  caller hears 'invalid'",
        "  caller hears 'hello-world' and presses nothing (timeout)",
        "  caller hears 'invalid'",
        "  caller hears 'hello-world' and presses 9",
        "[support]",
        "outcome: queue support (skills support:1, priority 0)",
    ]


def test_main_menu_on_a_holiday_takes_a_callback_number() -> None:
    t = simulate(SHIPPED, SHIPPED["main"], Script(ani="5559876", digits=[""],
                                                   now=datetime(2026, 12, 25, 9, 0, tzinfo=UTC)))
    assert t.lines[-5:] == [
        "[closed]",
        "  caller hears 'vm-enter-num-to-call' and presses nothing (timeout)",
        "  callback requested to 5559876 (queue support)",
        "  caller hears 'vm-goodbye'",
        "outcome: callback to 5559876",
    ]
    assert t.variables["CC_CALLBACK"] == "5559876"


def test_fault_reporting_automatic_ticket() -> None:
    t = simulate(SHIPPED, SHIPPED["fault"], Script(ani="5557000", digits=["1", "4711"],
                                                    customers={"4711": CustomerInfo("4711", "Bo Fault", False)}))
    assert t.lines[1:] == [
        "[menu]", "  caller hears 'hello-world' and presses 1",
        "[enter_number]", "  caller hears 'enter-some-digits' and presses 4711",
        "[find]", "  customer lookup by reference 4711: 4711 Bo Fault",
        "[log_ticket]", "  ticket for 4711 'Fault reported by phone from 5557000': #1001",
        "[confirm]", "  caller hears 'auth-thankyou'", "  caller hears digits 1001",
        "[bye]", "  caller hears 'vm-goodbye'", "  the IVR hangs up",
        "outcome: hangup; customer 4711",
    ]


def test_fault_reporting_a_person_the_least_busy_repair_agent() -> None:
    t = simulate(SHIPPED, SHIPPED["fault"], Script(digits=["2"], agent=AgentInfo("agent1003", "1003")))
    assert t.lines[-6:] == [
        "[choose_agent]", "  agent for queue repair: agent1003 (number 1003)",
        "[tell_agent]", "  caller hears 'agent-newlocation'", "  caller hears digits 1003",
        "[to_agent]",
    ] or t.lines[-7:-1] == [
        "[choose_agent]", "  agent for queue repair: agent1003 (number 1003)",
        "[tell_agent]", "  caller hears 'agent-newlocation'", "  caller hears digits 1003",
        "[to_agent]",
    ]
    assert t.lines[-1] == "outcome: queue repair (skills repair:1, priority 0, preferred agent agent1003)"
    assert t.variables["CC_PREFERRED_AGENT"] == "agent1003"


def test_fault_reporting_unknown_customer_number_goes_to_a_person() -> None:
    t = simulate(SHIPPED, SHIPPED["fault"], Script(digits=["1", "99999"]))
    assert "[unknown_number]" in t.lines
    assert t.lines[-1] == "outcome: queue repair (skills repair:1, priority 0)"


def test_survey_is_stored_with_call_agent_and_queue() -> None:
    t = simulate(SHIPPED, SHIPPED["survey"], Script(digits=["6", "4"], uniqueid="1795355275.23",
                                                     channel_variables={"CC_AGENT": "agent1001", "CC_QUEUE": "sales"}))
    assert t.requests == [SaveSurvey("1795355275.23", "survey", "satisfaction", 4, "agent1001", "sales")]
    assert t.lines[-1] == "outcome: completed"


def test_a_caller_who_hangs_up_mid_question() -> None:
    t = simulate(SHIPPED, SHIPPED["survey"], Script(hang_up_at_question=1))
    assert t.outcome.kind == "caller-hangup"
    assert t.requests == []
    assert t.variables == {"CC_IVR_OUTCOME": "caller-hangup", "CC_IVR_PATH": "rating"}


EVERY_KIND = """\
name: all
language: en
start: lang
variables: {greeting: hello}
calendars:
  office: {time_zone: UTC, week: {mon-fri: ["08:00-18:00"]}, holidays: ["2026-12-25"]}
nodes:
  lang:
    type: language
    prompt: beep
    options: {"1": en, "2": de}
    next: hours
  hours: {type: hours, calendar: office, open: who, closed: vm, holiday: vm}
  who: {type: customer_lookup, by: caller, found: ext, not_found: ext}
  ext:
    type: http
    url: "https://crm.example/api?ani=${ani}"
    save: {tier: data.tier}
    next: pick
    on_error: pick
  pick: {type: pick_agent, queue: support, found: say, none: say}
  say:
    type: play
    prompts: ["${greeting}-world", {number: "42"}, {digits: "${agent_number}"}, {date: "2026-03-02T10:00:00+00:00"}]
    next: ask
  ask:
    type: collect
    prompt: enter-some-digits
    variable: account
    min: 3
    max: 6
    pattern: "9[0-9]+"
    next: remember
    on_failure: bye
  remember: {type: set, variables: {note: "acct ${account} tier ${tier}"}, next: route}
  route:
    type: branch
    cases:
      - {when: 'tier == "gold"', goto: sub}
      - {when: 'len(account) == 3', goto: goodbye}
    otherwise: menu
  sub: {type: subflow, flow: helper, next: menu}
  menu:
    type: menu
    prompt: hello-world
    options: {"1": q, "2": xfer, "3": agentx, "4": vm, "5": cb, "6": rate, "*": loop}
    on_failure: bye
  loop: {type: goto, target: menu}
  rate: {type: survey, prompt: beep, next: bye}
  q: {type: queue, queue: sales, skills: [sales], priority: "5", prompt: pls-hold-while-try}
  xfer: {type: transfer, number: "5550199"}
  agentx: {type: transfer, agent: "agent1001"}
  vm: {type: voicemail, mailbox: "100@default"}
  cb: {type: callback, prompt: vm-enter-num-to-call}
  goodbye: {type: return}
  bye: {type: hangup, prompt: vm-goodbye}
"""
HELPER = """\
name: helper
start: t
nodes:
  t: {type: ticket, title: "gold caller", next: back, on_error: back}
  back: {type: return}
"""


def _all_flows() -> dict[str, object]:
    return {"all": parse_flow(EVERY_KIND, "all.yaml", prompt_exists=lambda n: True),
            "helper": parse_flow(HELPER, "helper.yaml")}


def test_the_test_flow_has_every_node_kind() -> None:
    flows = _all_flows()
    kinds = {node.kind for flow in flows.values() for node in flow.nodes.values()}  # type: ignore[attr-defined]
    assert kinds == set(KINDS)


@pytest.mark.parametrize("digits, http, outcome", [
    (["2", "9123", "1"], {"tier": "gold"}, "queue sales (skills sales:1, priority 5); customer C100"),
    (["1", "9123", "2"], None, "transfer to 5550199; customer C100"),
    (["1", "9123", "3"], None, "transfer to agent agent1001; customer C100"),
    (["1", "9123", "4"], None, "voicemail 100@default; customer C100"),
    (["1", "9123", "5", "5550123"], None, "callback to 5550123; customer C100"),
    (["1", "9123", "6", "5"], None, "hangup; customer C100"),
    (["1", "9123", "*", "1"], None, "queue sales (skills sales:1, priority 5); customer C100"),
    (["1", "912"], None, "completed; customer C100"),
    (["1", "12", "12", "12"], None, "hangup; customer C100"),
])
def test_every_node_kind(digits: list[str], http: dict[str, str] | None, outcome: str) -> None:
    flows = _all_flows()
    answers = {"https://crm.example/api?ani=5551234": {"data": http}} if http else {}
    t = simulate(flows, flows["all"], Script(ani="5551234", digits=list(digits), customers={"5551234": VIP},  # type: ignore[arg-type]
                                             agent=AgentInfo("agent1002", "1002"), http=answers))
    assert t.lines[-1] == f"outcome: {outcome}"
    text = t.text()
    assert "caller hears number 42" in text and "caller hears digits 1002" in text and "caller hears date" in text
    if http:
        assert "ticket for C100 'gold caller': #1001" in text and "[helper/t]" in text
        assert t.variables["CC_LANGUAGE"] == "de"


def test_outside_hours_and_on_holidays() -> None:
    flows = _all_flows()
    for now in (datetime(2026, 3, 7, 10, 0, tzinfo=UTC), datetime(2026, 12, 25, 10, 0, tzinfo=UTC)):
        t = simulate(flows, flows["all"], Script(digits=["1"], now=now))  # type: ignore[arg-type]
        assert t.lines[-1] == "outcome: voicemail 100@default"


def test_the_commands_on_the_wire_are_asterisks() -> None:
    """What the s-agi-ivr trace shows: ANSWER, STREAM FILE x "", GET DATA x ms n, SET VARIABLE."""
    flow = SHIPPED["main"]
    runner = Runner(SHIPPED, flow, CallInfo(ani="5552007", dnis="8015550100", uniqueid="1795355275.23"))
    now = datetime(2026, 3, 2, 10, tzinfo=UTC)
    sent = []
    step = runner.start(now)
    answers = {"ANSWER": "200 result=0", "GET DATA": "200 result=1", "SET VARIABLE": "200 result=1"}
    while isinstance(step, Command) or step.__class__.__name__ == "FindCustomer":
        if isinstance(step, Command):
            sent.append(step.text)
            reply = parse_result(next(v for k, v in answers.items() if step.text.startswith(k)))
            step = runner.feed(reply, now)
        else:
            step = runner.feed(None, now)
    assert sent == ["ANSWER", "GET DATA hello-world 5000 1", "SET VARIABLE CC_QUEUE sales",
                    "SET VARIABLE CC_SKILLS sales:1", "SET VARIABLE CC_PRIORITY 0", "SET VARIABLE CC_IVR_OUTCOME queue",
                    "SET VARIABLE CC_IVR_PATH identify,hours,menu,sales"]


def test_a_runaway_loop_ends_in_error_and_leaves_the_defaults() -> None:
    text = "start: a\nnodes:\n  a: {type: goto, target: b}\n  b: {type: goto, target: a}\n"
    flow = parse_flow(text, "loop.yaml")
    t = simulate({"loop": flow}, flow, Script())
    assert t.outcome.kind == "error"
    assert "CC_QUEUE" not in t.variables
    assert t.lines[-1].startswith("outcome: error: more than 500 nodes visited")

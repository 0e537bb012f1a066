"""The simulated PBX's attended transfer (AMI Atxfer) against the real Asterisk, and where no trace exists.

`test_e_atxfer` replays the transfer segment of the recorded trace app-queue/e-atxfer (from the Atxfer action
until just before the caller hangs up) through the simulator on the lab's dialplan and compares every
channel's events, header by header, as test_simulator_fidelity does. The call before the transfer is made
differently: Asterisk's app_queue connected it there (Queue with options tT), here a Dial with the same
transfer option `t` in a context added for the test. That gives the only allowed differences besides
sim_harness's (EXCLUDED_EVENTS, MASKED, RACED):

- app_queue's own events, AgentComplete and QueueMemberStatus (our dialplan has no app_queue);
- where the call was before the transfer: the caller's Context/Exten/Priority (inbound,support,9 in the
  trace, Queue() running), the transferer leg's Exten (app_queue names the queue, `support`; an answered
  Dial leg has none), and the same fields of those two channels inside AttendedTransfer.

The other tests drive cases no trace shows; what they expect is the simulator's documented assumption
(callcenter/simulator/transfer.py), asserted event by event where the tracker depends on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sim_harness import LAB, TRACES, _is_customer_phone, lab_pbx, normalise, read_jsonl

from callcenter.asterisk.conf import parse_conf, read_conf
from callcenter.asterisk.dialplan import Extension, parse_dialplan, read_dialplan
from callcenter.simulator.actions import Actions
from callcenter.simulator.channels import Channel
from callcenter.simulator.clock import VirtualClock
from callcenter.simulator.pbx import Pbx
from callcenter.simulator.transfer import Features, read_features
from cti import contract

TRACE = TRACES / "app-queue" / "e-atxfer.jsonl"
SHIPPED = Path(__file__).parent.parent / "config" / "asterisk"
# The lab connected the call with app_queue (Queue(support,tTxX)); here a Dial that lets the agent transfer.
SETUP = """
[atxfer-setup]
exten => _[a-z].,1,Answer()
 same => n,Dial(PJSIP/${EXTEN},,t)
"""
APP_QUEUE_EVENTS = frozenset({"AgentComplete", "QueueMemberStatus"})
LOCATION = ("Context", "Exten", "Priority")
# The trace's moments (seconds on its clock) that the replay reproduces.
CALLER_ARRIVES, AGENT_ANSWERS, ATXFER, TARGET_ANSWERS, TRANSFERER_HANGS_UP, CUT = (
    3.209, 4.714, 6.718031, 8.653707, 10.658526, 17.4)


def _pbx(clock: VirtualClock) -> Pbx:
    path = LAB / "extensions.conf"
    return lab_pbx(clock, parse_dialplan(parse_conf(path.read_text(encoding="utf-8") + SETUP, str(path))))


def _channels(pbx: Pbx, endpoint: str) -> list[Channel]:
    return [c for c in pbx.channels.values() if c.endpoint == endpoint]


def replay_e_atxfer() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(recorded window, recorded stream, simulated window, simulated stream)."""
    clock = VirtualClock()
    start = clock.now()
    pbx = _pbx(clock)
    actions = Actions(pbx)
    simulated: list[dict[str, Any]] = []
    pbx.listeners.append(simulated.append)
    clock.run_until(start + CALLER_ARRIVES)
    pbx.inbound_call("agent1001", "5551007", "Grace Caller", context="atxfer-setup")
    clock.run_until(start + AGENT_ANSWERS)
    [agent] = _channels(pbx, "agent1001")
    pbx.answer(agent)
    clock.run_until(start + ATXFER)
    window_start = len(simulated)
    simulated += actions.answer({"Action": "Atxfer", "ActionID": "lab-3", "Channel": agent.name, "Exten": "1003",
                                 "Context": "agents"})
    clock.run_until(start + TARGET_ANSWERS)
    [target] = _channels(pbx, "agent1003")
    pbx.answer(target)
    clock.run_until(start + TRANSFERER_HANGS_UP)
    pbx.remote_hangup(agent)
    clock.run_until(start + CUT)
    # Asterisk's events and its answer to the Atxfer (the recording session's Login and Logoff left out)
    recorded = [r for r in read_jsonl(TRACE) if r["_dir"] == "in" and not _is_customer_phone(r)
                and r.get("ActionID", "lab-3") == "lab-3"]
    window = [{k: v for k, v in r.items() if not k.startswith("_")} for r in recorded if ATXFER <= r["_t"] < CUT]
    stream = [{k: v for k, v in r.items() if not k.startswith("_")} for r in recorded]
    return window, stream, simulated[window_start:], simulated


def _where_the_call_was(threads: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Hide the locations that differ by how the call was connected before the transfer (see above)."""
    caller, transferer = "uid(PJSIP/pstn-in#0)", "uid(PJSIP/agent1001#0)"
    out: dict[str, list[dict[str, Any]]] = {}
    for thread, events in threads.items():
        shown = []
        for event in events:
            event = dict(event)
            hidden = {caller: LOCATION, transferer: ("Exten",)}.get(event.get("Uniqueid", ""), ())
            for key in hidden:
                event[key] = "<location>"
            if event.get("Event") == "AttendedTransfer":
                for key in LOCATION:
                    event[f"Transferee{key}"] = "<location>"
                event["OrigTransfererExten"] = event["SecondTransfererExten"] = "<location>"
            shown.append(event)
        out[thread] = shown
    return out


def test_e_atxfer() -> None:
    window, stream, simulated_window, simulated = replay_e_atxfer()
    expected = _where_the_call_was(normalise(window, stream, APP_QUEUE_EVENTS))
    got = _where_the_call_was(normalise(simulated_window, simulated, APP_QUEUE_EVENTS))
    assert sorted(got) == sorted(expected), "the same channels, bridges and responses"
    for thread in expected:
        assert got[thread] == expected[thread], thread


def test_the_trace_order_across_channels() -> None:
    """What the tracker relies on between channels: ATTENDEDTRANSFER on `;1` names the transferer before it
    leaves the caller's bridge; the merge (BridgeMerge, `;1` in the caller's bridge, the music stops) comes
    before AttendedTransfer, which comes before the transferer's Hangup; the optimisation after."""
    _, _, events, _ = replay_e_atxfer()
    names = [(e.get("Event"), e.get("Channel", "")[:12], e.get("Variable", "")) for e in events]

    def first(event: str, channel: str = "", variable: str = "") -> int:
        return next(i for i, (e, c, v) in enumerate(names) if e == event and c.startswith(channel)
                    and v.startswith(variable))

    assert first("VarSet", "Local/1003@a", "ATTENDEDTRANSFER") < first("BridgeLeave", "PJSIP/agent1")
    assert (first("BridgeMerge") < first("MusicOnHoldStop", "PJSIP/pstn-i") < first("AttendedTransfer")
            < first("Hangup", "PJSIP/agent1") < first("LocalOptimizationBegin") < first("LocalOptimizationEnd"))
    transfer = events[first("AttendedTransfer")]
    assert (transfer["IsExternal"], transfer["DestType"], transfer["TransferTargetChannel"]) == (
        "No", "Bridge", "Local/1003@agents-00000000;1")


def test_the_dialplan_reads_features_and_match_more_as_asterisk() -> None:
    """The lab's features.conf leaves atxferabort to Asterisk's default; the shipped one sets what the
    simulator assumes by default. `_100X` is complete at 4 digits; `_[a-z].` can always take one more."""
    assert read_features(read_conf(LAB / "features.conf")) == Features(atxfer="*2")
    assert read_features(read_conf(SHIPPED / "features.conf")) == Features()
    assert not Extension("_100X").matches_longer("1003") and Extension("_100X").matches_longer("100")
    assert Extension("_[a-z].").matches_longer("agent1003") and Extension("_X.").matches_longer("5551234")
    assert not Extension("_555XXXX").matches_longer("5551234") and Extension("1003").matches_longer("10")
    shipped = read_dialplan(SHIPPED / "extensions_callcenter.conf")
    assert shipped.matches_longer(contract.CONSULT_CONTEXT, "agent1003")  # hence the `#` the desktop sends


# ---- cases no trace shows ----------------------------------------------------------------------------

@pytest.fixture
def consulting() -> tuple[VirtualClock, Pbx, Actions, list[dict[str, Any]], Channel, Channel]:
    """agent1001 talks to a caller and consults agent1003, whose phone rings (the trace up to 7.2 s)."""
    clock = VirtualClock()
    start = clock.now()
    pbx = _pbx(clock)
    actions = Actions(pbx)
    events: list[dict[str, Any]] = []
    pbx.listeners.append(events.append)
    caller = pbx.inbound_call("agent1001", "5551007", "Grace Caller", context="atxfer-setup")
    clock.run_until(start + 1)
    [agent] = _channels(pbx, "agent1001")
    pbx.answer(agent)
    clock.run_until(start + 2)
    assert actions.answer({"Action": "Atxfer", "Channel": agent.name, "Exten": "1003", "Context": "agents"}) == [
        {"Response": "Success", "Message": "Atxfer successfully queued"}]
    clock.run_until(start + 3)
    assert pbx.transfers.consulting(agent)
    del events[:]
    return clock, pbx, actions, events, caller, agent


def _kinds(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["Event"], e.get("Channel", "").split("-")[0]) for e in events
            if e["Event"] in ("BridgeEnter", "BridgeLeave", "BridgeDestroy", "Unhold", "MusicOnHoldStop", "Hangup",
                              "DialEnd", "AttendedTransfer", "BridgeMerge")]


def test_cancel_atxfer_takes_the_transferer_back_to_the_caller(consulting: Any) -> None:
    clock, pbx, actions, events, caller, agent = consulting
    assert actions.answer({"Action": "CancelAtxfer", "ActionID": "c1", "Channel": agent.name}) == [
        {"Response": "Success", "ActionID": "c1", "Message": "CancelAtxfer successfully queued"}]
    clock.advance(1)
    assert [e["Digit"] for e in events if e["Event"] == "DTMFEnd"] == ["*", "1"]
    assert _kinds(events) == [
        ("BridgeLeave", "PJSIP/agent1001"), ("BridgeEnter", "PJSIP/agent1001"), ("Unhold", "PJSIP/agent1001"),
        ("MusicOnHoldStop", "PJSIP/pstn"), ("BridgeLeave", "Local/1003@agents"), ("BridgeDestroy", ""),
        ("Hangup", "Local/1003@agents"), ("DialEnd", "Local/1003@agents"), ("Hangup", "Local/1003@agents"),
        ("Hangup", "PJSIP/agent1003")]
    assert agent.bridge is caller.bridge and not pbx.transfers.consulting(agent)
    assert [e["Cause"] for e in events if e["Event"] == "Hangup"] == ["16", "16", "0"]
    assert next(e for e in events if e["Event"] == "DialEnd")["DialStatus"] == "CANCEL"


def test_cancel_atxfer_errors_are_managers(consulting: Any) -> None:
    _, pbx, actions, _, _, agent = consulting
    assert actions.answer({"Action": "CancelAtxfer"})[0]["Message"] == "No channel specified"
    assert actions.answer({"Action": "CancelAtxfer", "Channel": "PJSIP/nobody-1"})[0]["Message"] == \
        "Channel specified does not exist"
    assert actions.answer({"Action": "Atxfer", "Channel": agent.name})[0]["Message"] == "No extension specified"
    pbx.transfers.features = Features(atxfer="")
    assert actions.answer({"Action": "Atxfer", "Channel": agent.name, "Exten": "1003"})[0]["Message"] == \
        "No attended transfer feature code found"


def test_a_target_that_does_not_answer_gives_the_caller_back(consulting: Any) -> None:
    """The lab's atxfernoanswertimeout (15 s) comes before its Dial's 20 s: the transferer goes back."""
    clock, pbx, _, events, caller, agent = consulting
    clock.advance(11)
    assert pbx.transfers.consulting(agent)
    clock.advance(5)
    assert agent.bridge is caller.bridge
    assert _kinds(events) == [
        ("BridgeLeave", "PJSIP/agent1001"), ("BridgeEnter", "PJSIP/agent1001"), ("Unhold", "PJSIP/agent1001"),
        ("MusicOnHoldStop", "PJSIP/pstn"), ("BridgeLeave", "Local/1003@agents"), ("BridgeDestroy", ""),
        ("Hangup", "Local/1003@agents"), ("DialEnd", "Local/1003@agents"), ("Hangup", "Local/1003@agents"),
        ("Hangup", "PJSIP/agent1003")]
    assert not [c for c in pbx.channels.values() if c.is_local or c.endpoint == "agent1003"]


def test_a_target_that_hangs_up_while_talking_gives_the_caller_back(consulting: Any) -> None:
    clock, pbx, _, events, caller, agent = consulting
    [target] = _channels(pbx, "agent1003")
    pbx.answer(target)
    clock.advance(1)
    pbx.remote_hangup(target)
    clock.advance(1)
    assert agent.bridge is caller.bridge and target.gone
    assert not [c for c in pbx.channels.values() if c.is_local]
    # the target's side goes first (its Dial on ;2 ends), then the agent is taken back to the caller
    assert _kinds(events)[-7:] == [
        ("BridgeLeave", "PJSIP/agent1001"), ("BridgeEnter", "PJSIP/agent1001"), ("Unhold", "PJSIP/agent1001"),
        ("MusicOnHoldStop", "PJSIP/pstn"), ("BridgeLeave", "Local/1003@agents"), ("BridgeDestroy", ""),
        ("Hangup", "Local/1003@agents")]


def test_an_ami_hangup_of_the_transferer_completes_as_its_phone_would(consulting: Any) -> None:
    clock, pbx, actions, events, caller, agent = consulting
    [target] = _channels(pbx, "agent1003")
    pbx.answer(target)
    clock.advance(1)
    actions.answer({"Action": "Hangup", "Channel": agent.name, "Cause": "16"})
    clock.advance(1)
    assert not any(e["Event"] == "HangupRequest" and e["Channel"] == agent.name for e in events)
    assert [e["Event"] for e in events].count("AttendedTransfer") == 1
    assert caller.bridge is target.bridge and caller.bridge is not None
    assert not [c for c in pbx.channels.values() if c.is_local]


def test_the_transferer_hanging_up_while_the_target_rings_hands_the_ringing_over(consulting: Any) -> None:
    clock, pbx, _, events, caller, agent = consulting
    [target] = _channels(pbx, "agent1003")
    pbx.remote_hangup(agent)
    clock.advance(1)
    assert [e["Event"] for e in events].count("AttendedTransfer") == 1 and agent.gone
    pbx.answer(target)
    clock.advance(1)
    assert caller.bridge is target.bridge and caller.bridge is not None
    assert [e["Event"] for e in events].count("LocalOptimizationEnd") == 1


def test_the_caller_hanging_up_while_consulting_leaves_the_agents_talking(consulting: Any) -> None:
    clock, pbx, _, events, caller, agent = consulting
    [target] = _channels(pbx, "agent1003")
    pbx.answer(target)
    clock.advance(1)
    pbx.remote_hangup(caller)
    clock.advance(1)
    assert caller.gone and not agent.gone and not target.gone
    assert "AttendedTransfer" not in [e["Event"] for e in events]
    pbx.remote_hangup(agent)
    clock.advance(1)
    assert agent.gone and target.gone and not [c for c in pbx.channels.values() if c.is_local]


def test_atxfer_without_transfer_rights_only_sends_the_digits() -> None:
    """A Dial without `t` (the lab's own cc-connect) hooks no transfer feature: the DTMF and nothing else."""
    clock = VirtualClock()
    pbx = lab_pbx(clock)
    caller = pbx.inbound_call("8005550100", "5551007", "Grace Caller", context="inbound")
    clock.advance(1)
    actions = Actions(pbx)
    actions.answer({"Action": "Redirect", "Channel": caller.name, "Context": "cc-connect", "Exten": "agent1001",
                    "Priority": "1"})
    clock.advance(1)
    [agent] = _channels(pbx, "agent1001")
    pbx.answer(agent)
    clock.advance(1)
    events: list[dict[str, Any]] = []
    pbx.listeners.append(events.append)
    actions.answer({"Action": "Atxfer", "Channel": agent.name, "Exten": "1003", "Context": "agents"})
    clock.advance(5)
    assert [e["Event"] for e in events] == ["VarSet"] + ["DTMFEnd"] * 6
    assert agent.bridge is caller.bridge


def test_the_caller_hanging_up_right_after_the_transfer_ends_every_leg(consulting: Any) -> None:
    """Before the Local pair optimises away (0.44 s), the caller's hangup takes `;1`, then `;2` and the target."""
    clock, pbx, _, events, caller, agent = consulting
    [target] = _channels(pbx, "agent1003")
    pbx.answer(target)
    clock.advance(1)
    pbx.remote_hangup(agent)
    clock.advance(0.1)
    pbx.remote_hangup(caller)
    clock.advance(1)
    assert "LocalOptimizationBegin" not in [e["Event"] for e in events]
    assert caller.gone and target.gone and not pbx.channels

"""The simulated PBX against the real Asterisk: every contract scenario, replayed and compared.

Each recorded contract trace (tests/traces/contract) is replayed through the simulator running the
lab's own dialplan, with the same callers, phones and ACD actions at the same times
(`sim_harness.run_scenario`). Per channel, the simulator's events must equal Asterisk's: names, order
and every header, ids renamed by what they are. The only differences allowed are listed in
`sim_harness`: EXCLUDED_EVENTS / EXCLUDED_VARIABLES (media reports, CDR engine, device states, session
events), MASKED (timing and random values), RACED (a header that races with another thread) and the
connected-line race after a Bridge. The orders between channels that the traces' README calls out are
asserted one by one below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sim_harness import CONTRACT, normalise, normalise_answers, read_agi_transcript, read_jsonl, run_scenario

SCENARIOS = sorted(p for p in CONTRACT.glob("*.jsonl") if p.name.count(".") == 1)


def _matches(packet: dict[str, Any], match: dict[str, str]) -> bool:
    """Event equal, every other header starting with the value given (channel names carry a suffix)."""
    return all(str(packet.get(k, "")) == v if k == "Event" else str(packet.get(k, "")).startswith(v)
               for k, v in match.items())


def _first(packets: list[dict[str, Any]], **match: str) -> int:
    return next(i for i, p in enumerate(packets) if _matches(p, match))


def _last(packets: list[dict[str, Any]], **match: str) -> int:
    return max(i for i, p in enumerate(packets) if _matches(p, match))


def test_every_contract_scenario_is_covered() -> None:
    assert [p.stem[0] for p in SCENARIOS] == ["m", "n", "o", "p", "q", "r", "s", "t", "v", "w"]


@pytest.mark.parametrize("trace", SCENARIOS, ids=lambda p: p.stem)
def test_each_channel_sees_what_asterisk_sent(trace: Path) -> None:
    recorded, simulated = run_scenario(trace)
    expected, got = normalise(recorded), normalise(simulated)
    assert sorted(got) == sorted(expected), "the same channels, bridges and responses"
    for thread in expected:
        assert got[thread] == expected[thread], thread


def test_a_timed_out_agent_hangs_up_after_the_caller_is_back_in_the_queue() -> None:
    """n.1: an ACD that frees the agent on its Hangup sees the caller waiting again first."""
    _, events = run_scenario(CONTRACT / "n-wait-redirect-noanswer.jsonl")
    hangup = _first(events, Event="Hangup", Channel="PJSIP/agent1004")
    assert _first(events, UserEvent="CCNoAnswer") < hangup
    assert _last(events[:hangup], UserEvent="CCWaiting") < _last(events[:hangup], Event="MusicOnHoldStart") < hangup
    assert events[hangup]["Cause"] == "0"


def test_after_the_agent_hangs_up_the_callers_dialplan_runs_before_the_agent_leg_is_gone() -> None:
    """m.5: the post-call Playback starts before BridgeDestroy and the agent's Hangup."""
    _, events = run_scenario(CONTRACT / "m-wait-redirect-answer.jsonl")
    playback = _first(events, Event="Newexten", Application="Playback")
    assert _first(events, Event="HangupRequest", Channel="PJSIP/agent1001") < playback
    assert playback < _first(events, Event="BridgeDestroy") < _first(events, Event="Hangup", Channel="PJSIP/agent")
    assert events[_last(events, Event="Hangup")]["Channel"].startswith("PJSIP/pstn-in")  # 0.86 s later


def test_a_caller_redirected_out_of_a_call_waits_again_before_the_agent_leg_goes() -> None:
    """w.2: CCWaiting and music for the caller, then the agent leg leaves, the bridge goes, Hangup 16."""
    _, events = run_scenario(CONTRACT / "w-hold-transfer-to-queue.jsonl")
    redirected = _first(events, ActionID="acd-3")
    waiting = redirected + _first(events[redirected:], UserEvent="CCWaiting")
    agent_gone = _first(events, Event="Hangup", Channel="PJSIP/agent1001")
    assert waiting < agent_gone
    assert events[agent_gone]["Cause"] == "16"
    assert not any(e.get("Event") == "DialEnd" and e.get("DestChannel", "").startswith("PJSIP/agent1001")
                   for e in events[redirected:])


def test_hanging_up_a_ringing_originated_leg() -> None:
    """q.2: the response first, then DialEnd NOANSWER, OriginateResponse Failure 0, Hangup 0."""
    _, events = run_scenario(CONTRACT / "q-caller-abandons-while-agent-rings.jsonl")
    response = _first(events, ActionID="acd-3")
    assert events[response]["Message"] == "Channel Hungup"
    tail = [e["Event"] for e in events[response + 1:] if e.get("Event") in ("DialEnd", "OriginateResponse", "Hangup")]
    assert tail == ["DialEnd", "OriginateResponse", "Hangup"]
    originate = events[_first(events, Event="OriginateResponse")]
    assert (originate["Response"], originate["Reason"], originate["Channel"]) == ("Failure", "0", "PJSIP/agent1004")


def test_the_resync_lists_answer_as_asterisk_did() -> None:
    """t: CoreShowChannels, Status with variables, BridgeList, BridgeInfo and Getvar from a second
    session, mid-call: the same items (their order is Asterisk's hash order, so compared sorted)."""
    answers: list[dict[str, Any]] = []
    recorded, simulated = run_scenario(CONTRACT / "t-resync.jsonl", CONTRACT / "t-resync.session2.jsonl", answers)
    session = read_jsonl(CONTRACT / "t-resync.session2.jsonl")
    own = {r["ActionID"] for r in session if r["_dir"] == "out" and r["Action"] in ("Login", "Logoff")}
    expected_answers = [{k: v for k, v in r.items() if not k.startswith("_")} for r in session
                        if r["_dir"] == "in" and r.get("Event") not in ("FullyBooted", "SuccessfulAuth")
                        and r.get("ActionID") not in own]
    expected = normalise_answers(expected_answers, recorded)
    got = normalise_answers(answers, simulated)
    assert sorted(got) == sorted(expected) == ["resync-2", "resync-3", "resync-4", "resync-5", "resync-6"]
    for action_id in expected:
        assert got[action_id] == expected[action_id], action_id


def test_a_restart_tears_every_channel_down_then_says_shutdown() -> None:
    """v: SoftHangupRequest 4, music stops, SoftHangupRequest 16, Hangup 0; Shutdown about 1.1 s later."""
    _, events = run_scenario(CONTRACT / "v-restart.jsonl")
    tail = [(e["Event"], e.get("Cause", "")) for e in events[_first(events, Event="SoftHangupRequest", Cause="4"):]]
    assert tail == [("SoftHangupRequest", "4"), ("MusicOnHoldStop", ""), ("SoftHangupRequest", "16"),
                    ("Hangup", "0"), ("Shutdown", "")]


def test_the_fastagi_bytes_are_asterisks() -> None:
    """s: what the simulated Asterisk writes on each FastAGI connection is the transcript's A>S bytes
    (the environment, the result lines, the late HANGUP), ids aside."""
    written: list[list[str]] = []
    _, events = run_scenario(CONTRACT / "s-agi-ivr.jsonl", agi_written=written)
    recorded = read_agi_transcript(CONTRACT / "s-agi-ivr.agi-transcript.txt")
    assert len(written) == len(recorded) == 2
    channels = [e for e in events if e.get("Event") == "Newchannel"]
    for lines, transcript, channel in zip(written, recorded, channels, strict=True):
        expected = [line.text for line in transcript if line.direction == "A>S"]
        ids = {"agi_channel": channel["Channel"], "agi_uniqueid": channel["Uniqueid"]}
        for name, value in ids.items():
            expected = [f"{name}: {value}\n" if line.startswith(f"{name}: ") else line for line in expected]
        threadid = [line for line in lines if line.startswith("agi_threadid: ")]
        assert len(threadid) == 1 and threadid[0].removeprefix("agi_threadid: ").strip().isdigit()
        expected = [threadid[0] if line.startswith("agi_threadid: ") else line for line in expected]
        assert lines == expected


def test_each_agi_command_has_one_start_and_one_end_with_the_same_id() -> None:
    _, events = run_scenario(CONTRACT / "s-agi-ivr.jsonl")
    starts = [e["CommandId"] for e in events if e.get("Event") == "AGIExecStart"]
    ends = [e["CommandId"] for e in events if e.get("Event") == "AGIExecEnd"]
    assert starts == ends and len(set(starts)) == len(starts) == 10

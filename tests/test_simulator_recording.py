"""Recordings in the simulated PBX: the shipped dialplan's MixMonitor (Dial's U() on the answered agent
leg) writes a real WAV file, and the events are Asterisk's (f-mixmonitor, f2-dialplan-mixmonitor)."""

from __future__ import annotations

import random
import wave
from pathlib import Path
from typing import Any

from callcenter.asterisk.render import load_dialplan
from callcenter.settings import Settings
from callcenter.simulator.actions import Actions
from callcenter.simulator.clock import VirtualClock
from callcenter.simulator.pbx import Pbx
from callcenter.simulator.people import AgentBehaviour, People, Span
from callcenter.simulator.recording import Recorder
from cti.events import CallEnded, RecordingStarted
from cti.tracker import Tracker

SHIPPED = Path("config/asterisk/extensions.conf")


def _pbx(tmp_path: Path, record: bool) -> tuple[Pbx, People, list[dict[str, Any]], VirtualClock]:
    settings = Settings.model_validate({"asterisk": {"record_calls": record}})
    clock = VirtualClock()
    pbx = Pbx(load_dialplan(settings, SHIPPED), clock)
    pbx.recorder = Recorder(tmp_path)
    events: list[dict[str, Any]] = []
    pbx.listeners.append(events.append)
    people = People(pbx, random.Random(1))
    people.add_agent("agent1001", "1001", "Agent One", AgentBehaviour(Span(1, 1), 0.0, Span(30, 30)))
    return pbx, people, events, clock


def _connect(pbx: Pbx, clock: VirtualClock, talk: float) -> str:
    caller = pbx.inbound_call("8005550100", "5552001", "Mia")
    clock.advance(1)
    Actions(pbx).answer({"Action": "Redirect", "Channel": caller.name, "Context": "cc-connect",
                         "Exten": "agent1001", "Priority": "1"})
    clock.advance(2 + talk)
    return caller.uniqueid


def test_a_recorded_call_leaves_a_wav_file_as_long_as_the_conversation(tmp_path: Path) -> None:
    pbx, people, events, clock = _pbx(tmp_path, record=True)
    people.callers.clear()
    call_id = _connect(pbx, clock, talk=40)  # the agent hangs up after 30 s of talk
    names = [e["Event"] for e in events if e.get("Channel", "").startswith("PJSIP/agent1001")]
    start = names.index("MixMonitorStart")
    assert names[start - 1:start + 1] == ["VarSet", "MixMonitorStart"]  # MIXMONITOR_FILENAME first
    assert "MixMonitorStop" not in names  # ended by the hangup: Asterisk sends no stop
    filename = next(e["Value"] for e in events if e.get("Variable") == "MIXMONITOR_FILENAME")
    leg = next(e["Uniqueid"] for e in events if e["Event"] == "MixMonitorStart")
    assert filename == f"/var/spool/asterisk/monitor/callcenter/{call_id}-{leg}.wav"  # the settings' folder
    [written] = pbx.recorder.written
    assert written == tmp_path / f"{call_id}-{leg}.wav"
    with wave.open(str(written)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
        assert abs(wav.getnframes() / 8000 - 30.0) < 0.05  # bridged time only (option b)
    tracker = Tracker()
    domain = [d for e in events for d in tracker.feed(e, clock.now())]
    assert [d.file for d in domain if isinstance(d, RecordingStarted)] == [filename]
    [ended] = [d for d in domain if isinstance(d, CallEnded)]
    assert ended.record.recordings == (Path(filename).name,)  # call records keep the file name


def test_an_unrecorded_call_writes_nothing(tmp_path: Path) -> None:
    pbx, _people, events, clock = _pbx(tmp_path, record=False)
    _connect(pbx, clock, talk=40)
    assert not any(e["Event"] == "MixMonitorStart" for e in events) and pbx.recorder.written == []
    assert list(tmp_path.iterdir()) == []


def test_the_mixmonitor_actions_answer_and_stop_as_asterisk_does(tmp_path: Path) -> None:
    pbx, _people, events, clock = _pbx(tmp_path, record=False)
    caller = pbx.inbound_call("8005550100", "5552002", "Ned")
    clock.advance(1)
    actions = Actions(pbx)
    started = actions.answer({"Action": "MixMonitor", "ActionID": "m1", "Channel": caller.name,
                              "File": "/var/spool/asterisk/monitor/on-demand.wav", "Options": ""})
    assert started == [{"Response": "Success", "ActionID": "m1"}]  # no Message (f-mixmonitor)
    clock.advance(3)
    stopped = actions.answer({"Action": "StopMixMonitor", "ActionID": "m2", "Channel": caller.name})
    assert stopped == [{"Response": "Success", "ActionID": "m2"}]
    assert [e["Event"] for e in events if e["Event"].startswith("MixMonitor")] == ["MixMonitorStart", "MixMonitorStop"]
    with wave.open(str(tmp_path / "on-demand.wav")) as wav:
        assert abs(wav.getnframes() / 8000 - 3.0) < 0.05  # not bridged-only: from start to stop
    again = actions.answer({"Action": "StopMixMonitor", "ActionID": "m3", "Channel": caller.name})
    assert again[0]["Response"] == "Error"
    missing = actions.answer({"Action": "MixMonitor", "ActionID": "m4", "Channel": "PJSIP/nosuch-00000000",
                              "File": "x.wav"})
    assert missing == [{"Response": "Error", "ActionID": "m4", "Message": "No such channel"}]

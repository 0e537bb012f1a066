"""Callers the ACD sends away (max wait, closed, full, no agents): on the shipped dialplan's cc-exit,
through the simulated PBX over AMI. The message plays the queue's prompt; a voicemail is recorded."""

from __future__ import annotations

import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

from waiting import until as _until

from acd.events import CallExited
from callcenter.routing.config import AcdFile
from callcenter.simulator.people import CallerBehaviour, Span


def _acd(exit_action: str) -> AcdFile:
    # nobody logged in, callers may wait anyway; 5 s at most, then the exit action
    return AcdFile.model_validate({
        "queues": {"support": {"max_wait": 5, "exit_action": exit_action, "exit_prompt": "ss-noservice"}},
        "agents": {"agent1001": {"queues": ["support"]}},
    })


async def test_max_wait_with_a_message_plays_the_queues_prompt_and_hangs_up(make_rig: Callable[[AcdFile], Any]) -> None:
    async with make_rig(_acd("message")) as rig:
        rig.people.call(CallerBehaviour("8005550100", 0, Span(600, 600), Span(60, 60)))
        await _until(lambda: bool(rig.ended))
        [exited] = [e for e in rig.acd_events if isinstance(e, CallExited)]
        assert (exited.reason.value, exited.action.value) == ("max_wait", "message")
        played = [e for e in rig.ami_events if e["Event"] == "Newexten" and e["Context"] == "cc-exit"]
        assert [(e["Exten"], e["Application"], e["AppData"]) for e in played] == [
            ("message", "Set", "CC_STATE=exit"), ("message", "Playback", "ss-noservice"), ("message", "Hangup", "")]
        [ended] = rig.ended
        assert ended.record.outcome.value == "abandoned" and 4.5 < ended.record.wait_seconds < 8


async def test_max_wait_with_voicemail_records_the_caller(make_rig: Callable[[AcdFile], Any], tmp_path: Path) -> None:
    async with make_rig(_acd("voicemail")) as rig:
        caller = rig.people.call(CallerBehaviour("8005550100", 0, Span(600, 600), Span(60, 60)))
        await _until(lambda: any(e.get("Application") == "Record" for e in rig.ami_events))
        rig.pbx.clock.call_later(4, lambda: rig.pbx.remote_hangup(caller))  # speaks 4 s, then hangs up
        await _until(lambda: bool(rig.ended))
        voicemail = tmp_path / f"voicemail-{caller.linkedid}.wav"
        await _until(lambda: voicemail.exists())
        with wave.open(str(voicemail)) as wav:
            assert 3.5 < wav.getnframes() / 8000 < 6  # the 4 s the caller spoke (delivery adds a little)

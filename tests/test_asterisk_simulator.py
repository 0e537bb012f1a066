"""The built-in PBX simulator runs the shipped dialplan: the contexts, variables and user events it
produces are the contract's (cti/contract.py), as the tracker reads them from a real Asterisk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from callcenter.asterisk.dialplan import read_dialplan
from callcenter.asterisk.phones import load_phones
from callcenter.asterisk.render import render, write
from callcenter.settings import load_settings
from callcenter.simulator.actions import Actions
from callcenter.simulator.channels import Channel
from callcenter.simulator.clock import VirtualClock
from callcenter.simulator.pbx import Endpoint, Pbx
from cti import contract

ROOT = Path(__file__).parent.parent
SECRETS = {"CALLCENTER__AMI__SECRET": "ami-secret-for-tests-1", "PHONE_AGENT1001_PASSWORD": "phone-secret-1001",
           "PHONE_AGENT1002_PASSWORD": "phone-secret-1002", "PHONE_SUP2001_PASSWORD": "phone-secret-2001"}


class Phone:
    def ringing(self, pbx: Pbx, channel: Channel) -> None:
        pass

    def stopped_ringing(self, pbx: Pbx, channel: Channel) -> None:
        pass


def _pbx(tmp_path: Path) -> tuple[Pbx, VirtualClock, list[dict[str, Any]]]:
    settings = load_settings(ROOT / "config" / "callcenter.yaml", environ=SECRETS)
    phones = load_phones(ROOT / "config" / "agents.yaml")
    write(render(settings, phones, SECRETS, ROOT / "config" / "asterisk"), tmp_path)
    clock = VirtualClock()
    pbx = Pbx(read_dialplan(tmp_path / "extensions.conf"), clock, trunk=contract.TRUNK_ENDPOINT)
    for phone in phones:
        pbx.endpoints[phone.endpoint] = Endpoint(phone.endpoint, phone.context, phone.extension, phone.name, Phone())
    events: list[dict[str, Any]] = []
    pbx.listeners.append(events.append)
    return pbx, clock, events


def _varsets(events: list[dict[str, Any]], channel: Channel) -> dict[str, str]:
    return {e["Variable"]: e["Value"] for e in events if e["Event"] == "VarSet" and e["Uniqueid"] == channel.uniqueid}


def test_a_caller_waits_rings_an_agent_in_vain_waits_again_then_talks_and_hears_goodbye(tmp_path: Path) -> None:
    pbx, clock, events = _pbx(tmp_path)
    actions = Actions(pbx)
    caller = pbx.inbound_call("8005550100", "5552001", context=contract.INBOUND_CONTEXT)
    clock.advance(1)
    waiting = [e for e in events if e.get("UserEvent") == contract.USEREVENT_WAITING]
    assert [(e["Context"], e["Queue"]) for e in waiting] == [(contract.WAIT_CONTEXT, "support")]
    assert _varsets(events, caller).items() >= {contract.VAR_DNIS: "8005550100", contract.VAR_QUEUE: "support",
                                                contract.VAR_STATE: contract.STATE_WAITING,
                                                "AGISTATUS": "FAILURE"}.items()
    assert events[-1]["Event"] == "MusicOnHoldStart"

    actions.answer({"Action": "Redirect", "Channel": caller.name, "Context": contract.CONNECT_CONTEXT,
                    "Exten": "agent1001", "Priority": "1"})
    clock.advance(15.5)  # CC_RING_TIMEOUT: nobody answers
    no_answer = [e for e in events if e.get("UserEvent") == contract.USEREVENT_NOANSWER]
    assert [(e["Agent"], e["DialStatus"]) for e in no_answer] == [("agent1001", "NOANSWER")]
    assert len([e for e in events if e.get("UserEvent") == contract.USEREVENT_WAITING]) == 2

    actions.answer({"Action": "Redirect", "Channel": caller.name, "Context": contract.CONNECT_CONTEXT,
                    "Exten": "agent1002", "Priority": "1"})
    clock.advance(1)
    agent = next(c for c in pbx.channels.values() if c.endpoint == "agent1002")
    assert agent.context == contract.AGENT_PHONE_CONTEXT and agent.linkedid == caller.uniqueid
    pbx.answer(agent)
    clock.advance(3)
    pbx.remote_hangup(agent)
    clock.advance(5)
    assert _varsets(events, caller)[contract.VAR_STATE] == contract.STATE_POSTCALL
    after = [e.get("Application") for e in events if e["Event"] == "Newexten" and e["Uniqueid"] == caller.uniqueid]
    assert after[-3:] == ["GotoIf", "Playback", "Hangup"]  # no survey set: goodbye
    assert caller.gone


def test_a_survey_set_by_the_ivr_sends_the_caller_to_the_survey_context(tmp_path: Path) -> None:
    pbx, clock, events = _pbx(tmp_path)
    actions = Actions(pbx)
    caller = pbx.inbound_call("8005550100", "5552001", context=contract.INBOUND_CONTEXT)
    clock.advance(1)
    actions.answer({"Action": "Setvar", "Channel": caller.name, "Variable": contract.VAR_SURVEY, "Value": "csat"})
    actions.answer({"Action": "Redirect", "Channel": caller.name, "Context": contract.CONNECT_CONTEXT,
                    "Exten": "agent1001", "Priority": "1"})
    clock.advance(1)
    agent = next(c for c in pbx.channels.values() if c.endpoint == "agent1001")
    pbx.answer(agent)
    clock.advance(2)
    pbx.remote_hangup(agent)
    clock.advance(5)
    assert _varsets(events, caller)[contract.VAR_STATE] == contract.STATE_SURVEY
    survey = [e for e in events if e["Event"] == "Newexten" and e["Context"] == contract.SURVEY_CONTEXT]
    assert [e["AppData"] for e in survey if e["Application"] == "AGI"] == ["agi://127.0.0.1:4573/survey,csat"]

"""Run a flow without a phone: a scripted caller, canned service answers, a readable transcript.

Each comma-separated group of digits answers one question (menu, collect, survey, language, callback),
as the simulated PBX's bot callers do; an empty group is silence (a timeout). What the caller hears and
what happens is written line by line, ending in the outcome.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ivr.agi import AgiResult, parse_result
from ivr.effects import (
    AgentInfo,
    Command,
    CreateTicket,
    CustomerInfo,
    FindCustomer,
    HttpRequest,
    PickAgent,
    Request,
    RequestCallback,
    SaveSurvey,
)
from ivr.model import Flow
from ivr.outcome import Outcome
from ivr.runner import CallInfo, Runner


@dataclass
class Script:
    """The caller and the world around the simulated call."""

    ani: str = "5550100"
    dnis: str = ""
    digits: list[str] = field(default_factory=list)       # one group per question
    hang_up_at_question: int | None = None                  # the caller hangs up during this question (1-based)
    customers: dict[str, CustomerInfo] = field(default_factory=dict)  # by reference and by phone
    agent: AgentInfo | None = None                          # what pick_agent finds
    http: dict[str, Any] = field(default_factory=dict)      # URL → JSON answer (missing: timeout)
    channel_variables: dict[str, str] = field(default_factory=dict)  # what GET VARIABLE reads (CC_AGENT ...)
    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 10, 0, tzinfo=UTC))  # a Monday, 10:00
    uniqueid: str = "1700000000.1"
    script: str = "ivr"
    args: tuple[str, ...] = ()


@dataclass
class Transcript:
    lines: list[str]
    outcome: Outcome
    variables: dict[str, str]              # what the IVR set on the channel
    requests: list[Request]                # what it asked the services

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def simulate(flows: Mapping[str, Flow], flow: Flow, script: Script,
             answer: Callable[[Request], Any] | None = None) -> Transcript:
    call = CallInfo(ani=script.ani, dnis=script.dnis or (flow.dnis[0] if flow.dnis else ""), caller_name="",
                    uniqueid=script.uniqueid, channel="PJSIP/cc-trunk-00000001", script=script.script,
                    args=script.args)
    runner = Runner(flows, flow, call)
    lines = [f"call from {call.ani or 'unknown'} to {call.dnis or 'unknown'}: flow {flow.name!r} ({flow.source})"]
    channel: dict[str, str] = {}
    requests: list[Request] = []
    questions = 0
    gone = False
    shown = 0
    step = runner.start(script.now)
    while not isinstance(step, Outcome):
        for node in runner.state.path[shown:]:
            lines.append(f"[{node}]")
        shown = len(runner.state.path)
        reply: Any
        if isinstance(step, Command):
            words = _words(step.text)
            name = " ".join(words[:2]).upper()
            if gone and name not in ("SET VARIABLE", "GET VARIABLE", "GET FULL VARIABLE", "HANGUP"):
                reply = parse_result("511 Command Not Permitted on a dead channel or intercept routine")
            elif name == "GET DATA":
                questions += 1
                if script.hang_up_at_question == questions:
                    lines.append(f"  caller hears {words[2]!r} and hangs up")
                    gone = True
                    reply = parse_result("200 result=-1")
                else:
                    keys = script.digits.pop(0) if script.digits else ""
                    most = int(words[4]) if len(words) > 4 else 1024
                    keys = keys[:most]
                    pressed = f"presses {keys}" if keys else "presses nothing (timeout)"
                    lines.append(f"  caller hears {words[2]!r} and {pressed}")
                    reply = parse_result(f"200 result={keys}" if keys else "200 result= (timeout)")
            else:
                reply = _agi(words, step.text, lines, channel, script)
        else:
            requests.append(step)
            reply = answer(step) if answer is not None else _service(step, script)
            lines.append(f"  {_describe(step, reply)}")
        step = runner.feed(reply, script.now)
    for node in runner.state.path[shown:]:
        lines.append(f"[{node}]")
    lines.append(f"outcome: {_outcome_text(step)}")
    return Transcript(lines, step, channel, requests)


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _agi(words: list[str], text: str, lines: list[str], channel: dict[str, str], script: Script) -> AgiResult:
    name = " ".join(words[:2]).upper()
    if name == "STREAM FILE":
        lines.append(f"  caller hears {words[2]!r}")
        return parse_result("200 result=0 endpos=8000")
    if name in ("SAY DIGITS", "SAY NUMBER", "SAY DATE"):
        lines.append(f"  caller hears {name.split()[1].lower()} {words[2]}")
        return parse_result("200 result=0")
    if name == "SET VARIABLE":
        channel[words[2]] = words[3] if len(words) > 3 else ""
        if words[2] == "CHANNEL(language)":
            lines.append(f"  language is now {channel[words[2]]}")
        return parse_result("200 result=1")
    if name == "GET VARIABLE":
        value = script.channel_variables.get(words[2], "")
        return parse_result(f"200 result=1 ({value})" if value else "200 result=0")
    if name == "GET FULL":  # GET FULL VARIABLE ${CHANNEL(linkedid)}
        return parse_result(f"200 result=1 ({script.uniqueid})")
    if name == "HANGUP":
        lines.append("  the IVR hangs up")
        return parse_result("200 result=1")
    return parse_result("200 result=0")  # ANSWER, NOOP, VERBOSE


def _service(request: Request, script: Script) -> Any:
    if isinstance(request, FindCustomer):
        return script.customers.get(request.value)
    if isinstance(request, HttpRequest):
        return script.http.get(request.url)
    if isinstance(request, CreateTicket):
        return "1001"
    if isinstance(request, PickAgent):
        return script.agent
    return None


def _describe(request: Request, reply: Any) -> str:
    if isinstance(request, FindCustomer):
        if isinstance(reply, CustomerInfo):
            return (f"customer lookup by {request.by} {request.value}: {reply.reference} {reply.name}"
                    f"{' (VIP)' if reply.vip else ''}")
        return f"customer lookup by {request.by} {request.value}: not found"
    if isinstance(request, HttpRequest):
        return f"HTTP {request.method} {request.url}: {'answered' if reply is not None else 'no answer (fallback)'}"
    if isinstance(request, CreateTicket):
        return f"ticket for {request.customer} {request.title!r}: " + (f"#{reply}" if reply else "failed")
    if isinstance(request, PickAgent):
        return (f"agent for queue {request.queue}: {reply.endpoint} (number {reply.number})"
                if isinstance(reply, AgentInfo) else f"agent for queue {request.queue}: none available")
    if isinstance(request, SaveSurvey):
        return (f"survey answer stored: {request.question}={request.score} (call {request.call_id}, "
                f"agent {request.agent or '-'}, queue {request.queue or '-'})")
    assert isinstance(request, RequestCallback)
    return f"callback requested to {request.number}" + (f" (queue {request.queue})" if request.queue else "")


def _outcome_text(outcome: Outcome) -> str:
    kind = outcome.kind
    if kind == "queue":
        skills = ",".join(f"{s}:{level}" for s, level in outcome.skills.items()) or "none"
        extra = f", preferred agent {outcome.agent}" if outcome.agent else ""
        text = f"queue {outcome.queue} (skills {skills}, priority {outcome.priority}{extra})"
    elif kind == "transfer":
        text = f"transfer to {'agent ' + outcome.agent if outcome.agent else outcome.number}"
    elif kind == "voicemail":
        text = f"voicemail {outcome.mailbox}"
    elif kind == "callback":
        text = f"callback to {outcome.number}"
    elif kind == "error":
        text = f"error: {outcome.reason} (the dialplan's default queue applies)"
    else:
        text = kind
    if outcome.customer:
        text += f"; customer {outcome.customer}"
    return text

"""The AMI Originate action on the simulated PBX: an outgoing leg to an endpoint, then an application
(Bridge, as o-originate-bridge-app) or a dialplan place (as p-originate-then-bridge-action).

Order of events, from the traces: Newchannel (the endpoint's context, `s`, its own caller id;
Uniqueid and Linkedid = ChannelId) → Newexten AppDial2 → VarSet per Variable → NewCallerid and
NewConnectedLine (the Originate's CallerID) → DialBegin with only Dest fields → Newstate Ringing →
DialState RINGING. Then one of: answer (Newstate Up, DialEnd ANSWER, the application or the
dialplan, OriginateResponse Success Reason 4); timeout (r: OriginateResponse Failure Reason 3, then
Hangup 19 "User alerting, no answer" with TechCause 480, no DialEnd); an AMI Hangup while ringing
(q: DialEnd NOANSWER, OriginateResponse Failure Reason 0, Hangup 0).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from callcenter.simulator.channels import STATE_DOWN, STATE_RINGING, UNKNOWN, Channel, Event
from callcenter.simulator.pbx import ActionError, Dialling, Pbx

REASON_ANSWERED, REASON_NO_ANSWER, REASON_OTHER = 4, 3, 0
CAUSE_NO_ANSWER, SIP_TEMPORARILY_UNAVAILABLE = 19, 480
_CALLERID = re.compile(r'^\s*(?:"(?P<quoted>[^"]*)"|(?P<bare>[^<]*?))\s*<(?P<num>[^>]*)>\s*$')


def parse_callerid(text: str) -> tuple[str, str]:
    """`"Name" <number>` → (number, name); a bare number is the number."""
    match = _CALLERID.match(text)
    if match is None:
        return text.strip() or UNKNOWN, UNKNOWN
    name = match["quoted"] if match["quoted"] is not None else (match["bare"] or "").strip()
    return match["num"] or UNKNOWN, name or UNKNOWN


@dataclass
class OriginateRequest:
    channel: str  # the dial string: PJSIP/agent1001
    context: str = ""
    exten: str = ""
    priority: str = "1"
    application: str = ""
    data: str = ""
    timeout_ms: int = 30_000
    callerid: str = ""
    variables: list[str] = field(default_factory=list)
    channel_id: str = ""
    action_id: str | None = None


def check(pbx: Pbx, request: OriginateRequest) -> None:
    """What Asterisk refuses at once, with its words (raw-actions)."""
    if not request.channel:
        raise ActionError("Channel not specified")
    if not request.application and not request.exten:
        raise ActionError("Exten not specified")
    if request.context and pbx.dialplan.find(request.context, request.exten) is None and not request.application:
        raise ActionError("Extension does not exist.")
    if request.channel_id and pbx.find_channel(request.channel_id) is not None:
        raise ActionError("Uniqueid already in use.")


def originate(pbx: Pbx, request: OriginateRequest, done: Callable[[bool], None] | None = None) -> None:
    """Start the originate (after its response); `done(success)` when it is answered or has failed."""
    cid_num, cid_name = parse_callerid(request.callerid) if request.callerid else (UNKNOWN, UNKNOWN)

    def respond(success: bool, reason: int, leg: Channel | None) -> None:
        event: Event = {"Event": "OriginateResponse", "Privilege": "call,all"}
        if request.action_id is not None:
            event["ActionID"] = request.action_id
        event["Response"] = "Success" if success else "Failure"
        event["Channel"] = leg.name if success and leg is not None else request.channel
        if request.application:
            event |= {"Application": request.application, "Data": request.data}
        else:
            event |= {"Context": request.context, "Exten": request.exten}
        event |= {"Reason": str(reason), "Uniqueid": leg.uniqueid if leg is not None else "<unknown>",
                  "CallerIDNum": cid_num, "CallerIDName": cid_name}
        pbx.emit(event)
        if done is not None:
            done(success)

    tech, _, endpoint_name = request.channel.partition("/")
    endpoint = pbx.endpoints.get(endpoint_name) if tech.upper() == "PJSIP" else None
    if endpoint is None or endpoint.phone is None:
        respond(False, REASON_OTHER, None)  # no channel could be made: Uniqueid <unknown>
        return
    leg = pbx.new_channel(endpoint.name, context=endpoint.context, exten="s", state=STATE_DOWN,
                          cid_num=endpoint.cid_num, cid_name=endpoint.cid_name,
                          uniqueid=request.channel_id or None)
    leg.application, leg.application_data = "AppDial2", "(Outgoing Line)"
    pbx.channel_event("Newexten", leg, "dialplan,all", Extension="s", Application="AppDial2",
                      AppData="(Outgoing Line)")
    for assignment in request.variables:
        name, _, value = assignment.partition("=")
        pbx.var_set(leg, name.strip(), value)
    if request.callerid:
        leg.cid_num, leg.cid_name = cid_num, cid_name
        pbx.channel_event("NewCallerid", leg, **{"CID-CallingPres": "0 (Presentation Allowed, Not Screened)"})
        pbx.set_connected(leg, cid_num, cid_name)
    pbx.emit({"Event": "DialBegin", "Privilege": "call,all", **leg.block("Dest"), "DialString": endpoint.name})
    pbx.set_state(leg, STATE_RINGING)
    pbx.emit({"Event": "DialState", "Privilege": "call,all", **leg.block("Dest"), "DialStatus": "RINGING"})

    def answered() -> None:
        pbx.emit({"Event": "DialEnd", "Privilege": "call,all", **leg.block("Dest"), "DialStatus": "ANSWER"})
        if request.application:
            respond(True, REASON_ANSWERED, leg)
            _run_application(pbx, leg, request)
        else:
            leg.has_pbx = True
            pbx.runner.goto(leg, request.context, request.exten, int(request.priority or "1"))
            pbx.runner.run(leg)
            respond(True, REASON_ANSWERED, leg)

    def timed_out() -> None:
        pbx.stop_ringing(leg)
        respond(False, REASON_NO_ANSWER, leg)
        pbx.destroy(leg, CAUSE_NO_ANSWER, tech_cause=SIP_TEMPORARILY_UNAVAILABLE)

    dialling = Dialling(leg, None, on_answer=answered,
                        on_fail=lambda reason, tech_cause: respond(False, reason, leg))
    leg.dialled_by = dialling
    dialling.timer = pbx.clock.call_later(request.timeout_ms / 1000, timed_out)
    pbx.ring_endpoint(leg)


def _run_application(pbx: Pbx, leg: Channel, request: OriginateRequest) -> None:
    if request.application.lower() == "bridge":
        target = pbx.find_channel(request.data.split(",")[0].strip())
        if target is None or target.gone:
            # no trace shows this; Asterisk's Bridge() sets BRIDGERESULT=NONEXISTENT and the leg ends
            pbx.var_set(leg, "BRIDGERESULT", "NONEXISTENT")
            pbx.destroy(leg, 16)
            return
        leg.application, leg.application_data = "Bridge", request.data
        pbx.runner.bridge_channels(target, leg, kind="bridge-app")
        return
    # other applications are not simulated: the answered leg just stays up until it is hung up

"""Replaying a recorded contract scenario through the simulated PBX, and comparing the two event streams.

The stimuli are read off the recorded trace itself: a caller arrives when its trunk leg appears, hangs
up when the trunk leg gets a HangupRequest, an agent's phone answers when its leg goes Up, holds and
hangs up when the trace shows it; the ACD's actions are the trace's `out` lines, at their times. The
simulator runs the lab's own dialplan (tests/traces/lab-config), so it is asked to do exactly what the
recorded Asterisk did.

Comparison, per channel (a channel's events come from one Asterisk thread, so their order is fixed;
the interleaving of two channels' events is timing and varies between recordings too):
- ids are named by what they are: the n-th channel of an endpoint, its Uniqueid; bridges by creation;
- left out, each for the reason in EXCLUDED; masked values in MASKED.
"""

from __future__ import annotations

import ast
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callcenter.asterisk.conf import read_conf
from callcenter.asterisk.dialplan import Dialplan, parse_dialplan
from callcenter.simulator.actions import Actions
from callcenter.simulator.agi import AgiCall, AgiSession, server_closed
from callcenter.simulator.channels import Channel
from callcenter.simulator.clock import VirtualClock
from callcenter.simulator.pbx import Endpoint, Pbx
from callcenter.simulator.transfer import read_features

TRACES = Path(__file__).parent / "traces"
LAB = TRACES / "lab-config"
CONTRACT = TRACES / "contract"

# What the comparison leaves out of both streams, and why.
EXCLUDED_EVENTS = {
    "RTCPSent": "media reports, sent on RTP timing; the simulator carries no media",
    "RTCPReceived": "media reports, sent on RTP timing; the simulator carries no media",
    "Cdr": "Asterisk's own CDR engine; the call center writes its own records",
    "DeviceStateChange": "device states; neither the tracker nor the ACD reads them",
    "SuccessfulAuth": "security events of AMI sessions; compared in the session tests",
    "FullyBooted": "session level; compared in the session tests",
}
EXCLUDED_VARIABLES = {
    "RTPAUDIOQOS": "media statistics at hangup (prefix); the simulator carries no media",
}
# Values that are timing or random in Asterisk: compared as present, not by value.
MASKED = {("VarSet", v) for v in ("RINGTIME", "RINGTIME_MS", "ANSWEREDTIME", "ANSWEREDTIME_MS", "DIALEDTIME",
                                    "DIALEDTIME_MS", "PROGRESSTIME", "PROGRESSTIME_MS", "BRIDGEPVTCALLID")}
# Random in Asterisk too: the id pairing an AGI command's start and end (checked apart, in the test).
RANDOM_HEADERS = {("AGIExecStart", "CommandId"), ("AGIExecEnd", "CommandId")}
# The dialled leg's state in DialBegin / DialState races with its own Newstate Ringing (another
# thread): m shows Ringing there, n and t show Down. Compared as present, not by value.
RACED = {("DialBegin", "DestChannelState"), ("DialBegin", "DestChannelStateDesc"),
         ("DialState", "DestChannelState"), ("DialState", "DestChannelStateDesc")}
CUSTOMER_PHONE = "pstn-out"  # the lab's loopback customer (its own session sim-*): not the call center's


@dataclass
class Recording:
    """Events as they came, with each channel's creation order per endpoint for naming."""

    events: list[dict[str, Any]] = field(default_factory=list)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class ScriptedPhone:
    """A phone that does what the scenario says, when it says (the trace's timing)."""

    def ringing(self, pbx: Pbx, channel: Channel) -> None:
        pass

    def stopped_ringing(self, pbx: Pbx, channel: Channel) -> None:
        pass


def lab_pbx(clock: VirtualClock, dialplan: Dialplan | None = None) -> Pbx:
    """The simulator set up as the lab's Asterisk: its dialplan (or `dialplan`), features, endpoints."""
    pbx = Pbx(dialplan or parse_dialplan(read_conf(LAB / "extensions.conf")), clock, trunk="pstn-in",
              features=read_features(read_conf(LAB / "features.conf")))
    pjsip = read_conf(LAB / "pjsip.conf")
    for section in pjsip.sections:
        if section.is_template or "callerid" not in pjsip.resolved(section.name):
            continue
        options = pjsip.resolved(section.name)
        match = re.match(r'"(?P<name>[^"]*)"\s*<(?P<num>[^>]*)>', options["callerid"])
        assert match is not None
        pbx.endpoints[section.name] = Endpoint(section.name, options.get("context", "default"), match["num"],
                                               match["name"], ScriptedPhone())
    return pbx


def _is_customer_phone(event: dict[str, Any]) -> bool:
    for key in ("Channel", "DestChannel"):
        if str(event.get(key, "")).startswith(f"PJSIP/{CUSTOMER_PHONE}-"):
            return True
    return str(event.get("ActionID", "")).startswith("sim-")


Packets = list[dict[str, Any]]


@dataclass
class AgiLine:
    at: float  # seconds since the connection was accepted
    direction: str  # "A>S" Asterisk to server, "S>A" server to Asterisk, "--" the server closes
    text: str


def read_agi_transcript(path: Path) -> list[list[AgiLine]]:
    """The FastAGI byte transcript: one list of lines per connection."""
    connections: list[list[AgiLine]] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.startswith("===== connection"):
            connections.append([])
            continue
        match = re.match(r"^\[\s*(?P<at>[\d.]+)\]\s+(?P<dir>A>S|S>A|--)\s+(?P<bytes>b.*)$", raw)
        if match is None or not connections:
            continue
        data = ast.literal_eval(match["bytes"]).decode("utf-8")
        if match["dir"] == "--" and "server closes" not in data:
            continue
        connections[-1].append(AgiLine(float(match["at"]), match["dir"], data))
    return connections


class ScriptedAgiServer:
    """Plays the server's side of recorded FastAGI connections, one per AGI() call, reacting to what the
    simulated Asterisk writes with the recorded gaps; keeps what the simulator wrote, for comparison."""

    def __init__(self, connections: list[list[AgiLine]]) -> None:
        self.connections = list(connections)
        self.written: list[list[str]] = []

    def __call__(self, pbx: Pbx, channel: Channel, url: str, args: list[str], call: AgiCall) -> None:
        script = self.connections.pop(0)
        written: list[str] = []
        self.written.append(written)
        position = 0
        last_at = 0.0

        def from_pbx(line: str) -> None:
            nonlocal position, last_at
            written.append(line)
            while position < len(script) and script[position].direction == "A>S":
                last_at = script[position].at
                position += 1
                if len(written) >= sum(1 for s in script[:position] if s.direction == "A>S"):
                    break
            play()

        def play() -> None:
            nonlocal position, last_at
            if position >= len(script) or script[position].direction == "A>S":
                return
            item = script[position]
            position += 1
            gap, last_at = item.at - last_at, item.at

            def act() -> None:
                if item.direction == "S>A":
                    session.command(item.text.rstrip("\n"))
                    play()
                else:
                    server_closed(session, call)

            pbx.clock.call_later(gap, act)

        session = AgiSession(pbx, channel, url, args, from_pbx)
        call.attach(session)
        session.begin()


def run_scenario(trace: Path, second: Path | None = None, second_answers: Packets | None = None,
                 agi_written: list[list[str]] | None = None) -> tuple[Packets, Packets]:
    """(recorded packets, simulated packets): events and the responses to the ACD's actions.

    `agi_written`: gets what the simulated Asterisk wrote on each FastAGI connection (a trace with an
    `.agi-transcript.txt` beside it is replayed against that transcript's server side).
    `second`: a second AMI session recorded beside the trace (t-resync.session2); its actions are put
    at their place on the trace's clock (its login is the trace's second SuccessfulAuth) and the
    simulator's answers to them are appended to `second_answers`.
    """
    records = [r for r in read_jsonl(trace) if r.get("_dir") in ("in", "out", "meta")]
    if second is not None:
        logins = [r["_t"] for r in records if r.get("Event") == "SuccessfulAuth"]
        session = read_jsonl(second)
        login_answer = next(r["_t"] for r in session if r.get("Message") == "Authentication accepted")
        offset = logins[-1] - login_answer
        extra = [dict(r, _t=r["_t"] + offset, _dir="second") for r in session
                 if r["_dir"] == "out" and r["Action"] not in ("Login", "Logoff")]
        records = sorted(records + extra, key=lambda r: r["_t"])
    clock = VirtualClock()
    start = clock.now()
    pbx = lab_pbx(clock)
    transcript = trace.with_name(trace.stem + ".agi-transcript.txt")
    agi_server = ScriptedAgiServer(read_agi_transcript(transcript)) if transcript.exists() else None
    pbx.agi_connector = agi_server
    if agi_server is not None and agi_written is not None:
        agi_server.written = agi_written
    actions = Actions(pbx)
    simulated: list[dict[str, Any]] = []
    made: list[Channel] = []  # every channel the simulator made, in creation order, gone ones included

    simulated_bridges: list[str] = []
    recorded_bridges: list[str] = []

    def listen(event: dict[str, Any]) -> None:
        simulated.append(event)
        if event["Event"] == "Newchannel":
            made.append(pbx.channels[event["Uniqueid"]])
        if event["Event"] == "BridgeCreate":
            simulated_bridges.append(event["BridgeUniqueid"])

    pbx.listeners.append(listen)
    names: dict[str, Channel] = {}  # recorded channel name → simulated channel
    uids: dict[str, Channel] = {}
    seen_per_endpoint: dict[str, int] = defaultdict(int)

    def simulated_channel(recorded: dict[str, Any]) -> Channel:
        name = recorded["Channel"]
        if name not in names:
            endpoint = name.split("/", 1)[1].rsplit("-", 1)[0]
            index = seen_per_endpoint[endpoint]
            seen_per_endpoint[endpoint] += 1
            of_endpoint = [c for c in made if c.endpoint == endpoint]
            assert index < len(of_endpoint), f"{trace.name}: the simulator made no channel for {name}"
            names[name] = of_endpoint[index]
            uids[recorded["Uniqueid"]] = of_endpoint[index]
        return names[name]

    def translate(value: str) -> str:
        if value in recorded_bridges and recorded_bridges.index(value) < len(simulated_bridges):
            return simulated_bridges[recorded_bridges.index(value)]
        for recorded_name, channel in names.items():
            value = value.replace(recorded_name, channel.name)
        for recorded_uid, channel in uids.items():
            value = re.sub(rf"(?<![\d.]){re.escape(recorded_uid)}(?![\d.])", channel.uniqueid, value)
        return value

    for record in records:
        clock.run_until(start + record["_t"])
        if record["_dir"] == "meta":
            if "core restart now" in record["Meta"]:
                pbx.restart()
            continue
        if record["_dir"] in ("out", "second"):
            if record["Action"] in ("Login", "Logoff"):
                continue
            action = {k: ([translate(x) for x in v] if isinstance(v, list) else translate(v))
                      for k, v in record.items() if not k.startswith("_")}
            answers = actions.answer(action)
            if record["_dir"] == "second" and second_answers is not None:
                second_answers.extend(answers)
            else:
                simulated.extend(answers)
            continue
        event = record.get("Event")
        channel_name = str(record.get("Channel", ""))
        if event == "BridgeCreate":
            recorded_bridges.append(record["BridgeUniqueid"])
        if event == "Newchannel" and channel_name.startswith("PJSIP/pstn-in-"):
            pbx.inbound_call(record["Exten"], record["CallerIDNum"], record["CallerIDName"], context=record["Context"])
            simulated_channel(record)
        elif event == "Newchannel" and not _is_customer_phone(record):
            clock.run_until(start + record["_t"] + 0.0005)  # the action that makes it runs just after
            simulated_channel(record)
        elif event == "HangupRequest" and channel_name.startswith("PJSIP/pstn-in-") and "Cause" in record:
            pbx.remote_hangup(simulated_channel(record), int(record["Cause"]))
        elif event == "HangupRequest" and channel_name.startswith("PJSIP/agent"):
            pbx.remote_hangup(simulated_channel(record), int(record.get("Cause", "16")))
        elif event == "Newstate" and channel_name.startswith("PJSIP/agent") and record["ChannelState"] == "6":
            pbx.answer(simulated_channel(record))
        elif event == "DTMFBegin" and channel_name.startswith("PJSIP/pstn-in-"):
            pbx.dtmf_begin(simulated_channel(record), record["Digit"])
        elif event == "DTMFEnd" and channel_name.startswith("PJSIP/pstn-in-"):
            pbx.dtmf_end(simulated_channel(record), record["Digit"], int(record.get("DurationMs", "160")))
        elif event == "Hold" and channel_name.startswith("PJSIP/agent"):
            pbx.hold(simulated_channel(record), record.get("MusicClass", "default"))
        elif event == "Unhold" and channel_name.startswith("PJSIP/agent"):
            pbx.unhold(simulated_channel(record))
    clock.advance(5)
    session = {r.get("ActionID") for r in records if r["_dir"] == "out" and r["Action"] in ("Login", "Logoff")}
    recorded_packets = [{k: v for k, v in r.items() if not k.startswith("_")} for r in records
                        if r["_dir"] == "in" and not _is_customer_phone(r)
                        and not ("Response" in r and "Event" not in r and r.get("ActionID") in session)]
    return recorded_packets, simulated


def _renamer(packets: list[dict[str, Any]]) -> Any:
    """Names ids by what they are: the n-th channel of an endpoint (and its Uniqueid), the n-th bridge."""
    names: dict[str, str] = {}
    uids: dict[str, str] = {}
    bridges: dict[str, str] = {}
    per_endpoint: dict[str, int] = defaultdict(int)
    for packet in packets:
        if packet.get("Event") == "Newchannel":
            tech, _, rest = packet["Channel"].partition("/")
            endpoint = rest.rsplit("-", 1)[0]  # agent1001, or 1003@agents for Local/1003@agents-00000000;1
            half = rest.rpartition(";")[2] if ";" in rest else ""
            label = f"{tech}/{endpoint}#{per_endpoint[endpoint]}" + (f";{half}" if half else "")
            if half != "1":  # a Local pair counts once: #0;1 and #0;2
                per_endpoint[endpoint] += 1
            names[packet["Channel"]] = label
            if not packet["Uniqueid"].startswith("acd-"):
                uids[packet["Uniqueid"]] = f"uid({label})"
        if packet.get("Event") == "BridgeCreate":
            bridges[packet["BridgeUniqueid"]] = f"bridge#{len(bridges)}"

    def rename(value: str) -> str:
        for old, new in names.items():
            value = value.replace(old, new)
        for old, new in uids.items():
            value = re.sub(rf"(?<![\d.]){re.escape(old)}(?![\d.])", new, value)
        return bridges.get(value, value)

    def shown(packet: dict[str, Any]) -> dict[str, Any]:
        return {k: ([rename(x) for x in v] if isinstance(v, list) else rename(str(v))) for k, v in packet.items()}

    return shown


def normalise(packets: list[dict[str, Any]], context: list[dict[str, Any]] | None = None,
              excluded: frozenset[str] = frozenset()) -> dict[str, list[dict[str, Any]]]:
    """Per-thread lists of comparable events: ids renamed, excluded events out, masked values hidden.

    `context`: the whole stream `packets` was cut from (its channels and bridges name the ids); `excluded`:
    more events to leave out."""
    rename = _renamer(context if context is not None else packets)
    threads: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for packet in packets:
        event = packet.get("Event")
        if event in EXCLUDED_EVENTS or event in excluded:
            continue
        variable = str(packet.get("Variable", ""))
        if event == "VarSet" and any(variable.startswith(p) for p in EXCLUDED_VARIABLES):
            continue
        shown = rename(packet)
        if (event, variable) in MASKED:
            shown["Value"] = "<masked>"
        for random_event, random_header in RANDOM_HEADERS:
            if event == random_event and random_header in shown:
                shown[random_header] = "<random>"
        for raced_event, raced_header in RACED:
            if event == raced_event and raced_header in shown:
                shown[raced_header] = "<raced>"
        if event is None:
            thread = "responses"
        elif "Channel" in packet and "ChannelState" in packet:
            thread = shown["Uniqueid"]
        elif "DestChannel" in packet:  # an Originate's dialling: its own thread, not the leg's
            thread = f"dialling {shown['DestUniqueid']}"
        else:
            thread = "pbx"
        threads[thread].append(shown)
    return {thread: _settle_connected_line_race(events) for thread, events in threads.items()}


# In list answers: how long a channel has existed is timing.
LIST_TIMING = ("Duration", "Seconds")


def normalise_answers(answers: list[dict[str, Any]], context: list[dict[str, Any]]) -> dict[str, Any]:
    """A session's list answers, per ActionID: the response, the items (as a sorted list: Asterisk's
    order is its hash table's) and the closing event. Ids named as in `context` (that run's events)."""
    rename = _renamer(context)
    masked_variables = {variable for _, variable in MASKED}
    out: dict[str, Any] = {}
    for packet in answers:
        if _is_customer_phone(packet):
            continue
        shown = rename(packet)
        for key in LIST_TIMING:
            if key in shown:
                shown[key] = "<timing>"
        if isinstance(shown.get("Variable"), list):
            shown["Variable"] = [v if v.split("=", 1)[0] not in masked_variables else v.split("=", 1)[0] + "=<masked>"
                                 for v in shown["Variable"]]
        entry = out.setdefault(shown.get("ActionID", ""), {"response": None, "items": [], "complete": None})
        if "Event" not in shown:
            entry["response"] = shown
        elif shown.get("EventList") == "Complete":
            entry["complete"] = {k: ("<count>" if k in ("ListItems", "Items") else v) for k, v in shown.items()}
        else:
            entry["items"].append(json.dumps(shown, sort_keys=True))
    for entry in out.values():
        entry["items"].sort()
    return out


def _is_bridge_peer(event: dict[str, Any]) -> bool:
    return event.get("Event") == "VarSet" and event.get("Variable") in ("BRIDGEPEER", "BRIDGEPVTCALLID")


def _settle_connected_line_race(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """After a Bridge (application or action) the caller's NewConnectedLine lands somewhere among the
    bridge's BRIDGEPEER updates (o: after two rounds, p: after three: two threads race). Canonical
    form: the NewConnectedLine after the whole run, and the connected line of that run's VarSets hidden."""
    out = list(events)
    for index, event in enumerate(events):
        if event.get("Event") != "NewConnectedLine":
            continue
        before = index
        while before > 0 and _is_bridge_peer(out[before - 1]):
            before -= 1
        after = index + 1
        while after < len(out) and _is_bridge_peer(out[after]):
            after += 1
        if before == index and after == index + 1:
            continue
        run = [dict(e, ConnectedLineNum="<raced>", ConnectedLineName="<raced>") for e in out[before:after]
               if e is not event]
        out[before:after] = [*run, event]
    return out

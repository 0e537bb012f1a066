"""Checking a rendered Asterisk configuration against what the call center relies on, without Asterisk.

`check(directory)` reads the files as Asterisk would (with `callcenter.asterisk.conf`, following
`#include`) and returns one line per problem; an empty list means: every context, extension, variable and
user event that the code names (`cti/contract.py`) is there, the dialplan has the contract's shape, every
application and function it uses comes from a module that modules.conf loads, every PJSIP reference
resolves, and the AMI user has least privilege on a private address. `callcenter asterisk check DIR` runs it.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from callcenter.asterisk.conf import ConfError, ConfFile, Section, read_conf
from callcenter.asterisk.dialplan import Dialplan, Extension, parse_dialplan
from cti import contract

FILES = ("extensions.conf", "pjsip.conf", "manager.conf", "http.conf", "rtp.conf", "musiconhold.conf",
         "logger.conf", "modules.conf", "features.conf")

# Where each application and function the dialplan may use comes from ("" = the core, always there).
APP_MODULES = {
    "Answer": "", "Set": "", "Goto": "", "GotoIf": "", "NoOp": "", "Wait": "", "Hangup": "", "Busy": "",
    "Congestion": "", "Progress": "", "Ringing": "", "Log": "", "Bridge": "", "SayNumber": "",
    "Verbose": "app_verbose.so", "Dial": "app_dial.so", "Playback": "app_playback.so",
    "UserEvent": "app_userevent.so", "MusicOnHold": "res_musiconhold.so", "AGI": "res_agi.so",
    "MixMonitor": "app_mixmonitor.so", "ChanSpy": "app_chanspy.so", "Gosub": "app_stack.so",
    "Return": "app_stack.so", "Record": "app_record.so",
}
FUNCTION_MODULES = {"CALLERID": "func_callerid.so", "CHANNEL": "func_channel.so", "IF": "func_logic.so",
                    "LEN": "func_strings.so"}
# Channel variables the dialplan reads that something outside it sets (Originate Variable:, the ACD's Setvar,
# the IVR's SET VARIABLE).
SET_OUTSIDE = frozenset({contract.VAR_CALL, contract.VAR_EXIT_PROMPT, contract.VAR_IVR_OUTCOME, contract.VAR_TRANSFER,
                         contract.VAR_TRANSFER_AGENT, contract.VAR_POSITION, contract.VAR_WAIT_MINUTES})
AMI_READ = frozenset({"call", "dialplan", "agi", "dtmf", "user", "system"})
AMI_WRITE = frozenset({"call", "originate", "reporting"})
WEBRTC = {"webrtc": "yes", "media_encryption": "dtls", "ice_support": "yes", "use_avpf": "yes", "rtcp_mux": "yes"}

_CC_NAME = re.compile(r"\bCC_[A-Z_]+\b")
_READ_VAR = re.compile(r"\$\{(CC_[A-Z_]+)[}:]")
_FUNCTION = re.compile(r"\$\{([A-Z_]+)\(")


def _constants(prefix: str = "", suffix: str = "") -> dict[str, str]:
    return {name: value for name, value in vars(contract).items()
            if name.isupper() and name.startswith(prefix) and name.endswith(suffix) and isinstance(value, str)}


def check(directory: Path) -> list[str]:
    problems: list[str] = []
    confs: dict[str, ConfFile] = {}
    for name in FILES:
        path = directory / name
        if not path.is_file():
            problems.append(f"{path}: missing")
            continue
        try:
            confs[name] = read_conf(path)
        except ConfError as exc:
            problems.append(str(exc))
    for path in sorted(directory.glob("*.conf")):
        if "{{" in path.read_text(encoding="utf-8"):
            problems.append(f"{path}: a {{{{ placeholder }}}} is left: render the templates first")
    if "extensions.conf" in confs:
        try:
            dialplan = parse_dialplan(confs["extensions.conf"])
        except ConfError as exc:
            problems.append(str(exc))
        else:
            problems += check_dialplan(dialplan)
            if "modules.conf" in confs:
                problems += check_modules(dialplan, confs["modules.conf"])
            if "pjsip.conf" in confs:
                problems += check_pjsip(confs["pjsip.conf"], dialplan)
    if "manager.conf" in confs:
        problems += check_manager(confs["manager.conf"])
    if "http.conf" in confs:
        problems += check_http(confs["http.conf"])
    if "features.conf" in confs:
        problems += check_features(confs["features.conf"])
    return problems


def check_features(features: ConfFile) -> list[str]:
    """The attended transfer's codes: Atxfer queues `atxfer` (Asterisk has none by default), CancelAtxfer
    queues `atxferabort` (an empty one makes it fail)."""
    problems: list[str] = []
    featuremap, general = features.section("featuremap"), features.section("general")
    if featuremap is None or not featuremap.get("atxfer"):
        problems.append(f"{features.path}: [featuremap] atxfer is not set: the AMI action Atxfer would fail")
    if general is not None and general.get("atxferabort") == "":
        problems.append(f"{features.path}: [general] atxferabort is empty: the AMI action CancelAtxfer would fail")
    return problems


def check_dialplan(dialplan: Dialplan) -> list[str]:
    problems: list[str] = []
    where = dialplan.path
    contexts = set(_constants(suffix="_CONTEXT").values())
    for name in sorted(contexts - set(dialplan.contexts)):
        problems.append(f"{where}: context [{name}] (cti/contract.py) is missing")
    for name in sorted(set(dialplan.contexts) - contexts):
        problems.append(f"{where}: context [{name}] is not named in cti/contract.py")
    steps = [(c, e, s) for c in dialplan.contexts.values() for e in c.extensions for s in e.steps.values()]
    text = "\n".join(f"{s.app}({s.data})" for _, _, s in steps) + "\n" + "\n".join(dialplan.globals)
    variables = {v for v in _constants("VAR_").values() if v.startswith("CC_")}
    for name in sorted(variables - set(_CC_NAME.findall(text))):
        problems.append(f"{where}: variable {name} (cti/contract.py) is never used")
    for name in sorted(set(_CC_NAME.findall(text)) - variables):
        problems.append(f"{where}: variable {name} is not named in cti/contract.py")
    assigned = {s.data.partition("=")[0].strip().lstrip("_") for _, _, s in steps if s.app == "Set"}
    for name in sorted(set(_READ_VAR.findall(text)) - assigned - set(dialplan.globals) - SET_OUTSIDE):
        problems.append(f"{where}: ${{{name}}} is read but never set (no Set, no [globals] default)")
    events = {s.data.split(",")[0].strip() for _, _, s in steps if s.app == "UserEvent"}
    if events != set(_constants("USEREVENT_").values()):
        problems.append(f"{where}: user events {sorted(events)} differ from cti/contract.py's "
                        f"{sorted(_constants('USEREVENT_').values())}")
    states = {s.data.partition("=")[2] for _, _, s in steps if s.app == "Set" and s.data.startswith("CC_STATE=")}
    if states != set(_constants("STATE_").values()):
        problems.append(f"{where}: CC_STATE values {sorted(states)} differ from cti/contract.py's")
    for context, extension, step in steps:
        here = f"{step.path or where}:{step.line}"
        for target in _jump_targets(step.app, step.data):
            if "${" not in target and not _exists(dialplan, extension, context.name, target.strip()):
                problems.append(f"{here}: {step.app} target {target!r} does not exist")
        for subroutine in re.findall(r"\bU\(([\w-]+)", step.data) if step.app == "Dial" else []:
            if dialplan.find(subroutine, "s") is None:
                problems.append(f"{here}: Dial U({subroutine}) has no context with an s extension")
    for context in dialplan.contexts.values():
        for included in context.includes:
            if included not in dialplan.contexts:
                problems.append(f"{where}: [{context.name}] includes unknown context {included}")
    return problems + _contract_shape(dialplan)


def _jump_targets(app: str, data: str) -> list[str]:
    if app == "Goto":
        return [data]
    if app == "GotoIf":
        _, _, branches = data.partition("?")
        return [t for t in branches.split(":") if t.strip()]
    return []


def _exists(dialplan: Dialplan, extension: Extension, context: str, target: str) -> bool:
    """A jump within the extension (`label`, `3`) or to `[context,]exten,priority` that lands on a step."""
    if "," not in target:
        return (int(target) in extension.steps) if target.isdigit() else extension.label(target) is not None
    place = dialplan.resolve(context, extension.name, target)
    return place is not None and dialplan.step(*place) is not None


def _contract_shape(dialplan: Dialplan) -> list[str]:
    """The contract steps the tracker, the ACD and the simulator rely on (ARCHITECTURE.md, contract/README)."""
    problems: list[str] = []
    sample_agent, sample_dnis = "agent1001", "8005550100"

    def expect(context: str, exten: str, wanted: list[tuple[int, str, str]]) -> None:
        found = dialplan.find(context, exten)
        if found is None:
            problems.append(f"{dialplan.path}: [{context}] has no extension for {exten!r}")
            return
        for priority, app, data_start in wanted:
            step = found.steps.get(priority)
            if step is None or step.app != app or not step.data.startswith(data_start):
                shown = "nothing" if step is None else f"{step.app}({step.data})"
                problems.append(f"{dialplan.path}: {context},{exten},{priority} should be {app}({data_start}...), "
                                f"is {shown}")

    inbound = dialplan.find(contract.INBOUND_CONTEXT, sample_dnis)
    if inbound is not None:
        order = [s.app + "(" + s.data for _, s in sorted(inbound.steps.items())]
        wanted = ["Answer(", f"Set({contract.VAR_DNIS}=", f"Set({contract.VAR_QUEUE}=",
                  f"AGI(${{{contract.VAR_FASTAGI}}}/{contract.AGI_IVR}", f"Goto({contract.WAIT_CONTEXT},s,1"]
        positions = [next((i for i, s in enumerate(order) if s.startswith(w)), -1) for w in wanted]
        if -1 in positions or positions != sorted(positions):
            problems.append(f"{dialplan.path}: [{contract.INBOUND_CONTEXT}] must run, in this order: "
                            + ", then ".join(w + "...)" for w in wanted))
    expect(contract.INBOUND_CONTEXT, sample_dnis, [])
    expect(contract.WAIT_CONTEXT, "s", [(1, "Set", f"{contract.VAR_STATE}={contract.STATE_WAITING}"),
                                        (2, "UserEvent", f"{contract.USEREVENT_WAITING},Queue: "),
                                        (3, "MusicOnHold", "default"), (4, "Goto", "s,moh")])
    expect(contract.CONNECT_CONTEXT, sample_agent, [
        (1, "Set", f"{contract.VAR_AGENT}=${{EXTEN}}"), (2, "Set", f"{contract.VAR_STATE}={contract.STATE_CONNECTING}"),
        (3, "Dial", f"PJSIP/${{EXTEN}},${{{contract.VAR_RING_TIMEOUT}}},g"),
        (6, "UserEvent", f"{contract.USEREVENT_NOANSWER},Agent: ${{EXTEN}},DialStatus: ${{DIALSTATUS}}"),
        (7, "Goto", f"{contract.WAIT_CONTEXT},s,1"), (8, "Set", f"{contract.VAR_STATE}={contract.STATE_POSTCALL}")])
    connect = dialplan.find(contract.CONNECT_CONTEXT, sample_agent)
    if connect is not None and connect.label("postcall") != 8:
        problems.append(f"{dialplan.path}: [{contract.CONNECT_CONTEXT}] priority 8 must be labelled postcall")
    expect(contract.AGENT_CONTEXT, "s", [(1, "NoOp", ""), (2, "Answer", ""), (3, "Wait", ""), (4, "Hangup", "")])
    expect(contract.SURVEY_CONTEXT, "s", [(1, "Set", f"{contract.VAR_STATE}={contract.STATE_SURVEY}"),
                                          (2, "AGI", f"${{{contract.VAR_FASTAGI}}}/{contract.AGI_SURVEY}")])
    expect(contract.RECORD_CONTEXT, "s", [(2, "MixMonitor", f"${{{contract.VAR_RECORDINGS_DIR}}}/")])
    for prefix in (contract.SPY_LISTEN_PREFIX, contract.SPY_WHISPER_PREFIX, contract.SPY_BARGE_PREFIX):
        extension = dialplan.find(contract.SUPERVISOR_CONTEXT, prefix + sample_agent)
        if extension is None or not any(s.app == "ChanSpy" for s in extension.steps.values()):
            problems.append(f"{dialplan.path}: [{contract.SUPERVISOR_CONTEXT}] has no ChanSpy for {prefix}<agent>")
    for exit_extension in (contract.EXIT_MESSAGE, contract.EXIT_VOICEMAIL, contract.EXIT_CALLBACK,
                           contract.EXIT_TRANSFER):
        expect(contract.EXIT_CONTEXT, exit_extension, [(1, "Set", f"{contract.VAR_STATE}={contract.STATE_EXIT}")])
    consult = dialplan.find(contract.CONSULT_CONTEXT, sample_agent)
    dials = [s.data for s in consult.steps.values() if s.app == "Dial"] if consult is not None else []
    if not any(d.startswith("PJSIP/${EXTEN},") for d in dials):
        problems.append(f"{dialplan.path}: [{contract.CONSULT_CONTEXT}] does not Dial an agent endpoint")
    connect_dial = connect.steps.get(3) if connect is not None else None
    if connect_dial is not None and "t" not in re.sub(r"[A-Za-z]\([^)]*\)", "", connect_dial.data.split(",")[-1]):
        problems.append(f"{dialplan.path}: [{contract.CONNECT_CONTEXT}] Dial lacks the option t: agents could not "
                        "transfer (Atxfer)")
    for context in (contract.OUTBOUND_CONTEXT, contract.AGENT_PHONE_CONTEXT, contract.SUPERVISOR_PHONE_CONTEXT,
                    contract.CONSULT_CONTEXT):
        extension = dialplan.find(context, "5551234567")
        dials = [s.data for s in extension.steps.values() if s.app == "Dial"] if extension else []
        if not any(f"@{contract.TRUNK_ENDPOINT}," in d for d in dials):
            problems.append(f"{dialplan.path}: [{context}] does not dial customers over {contract.TRUNK_ENDPOINT}")
    return problems


def check_modules(dialplan: Dialplan, modules: ConfFile) -> list[str]:
    section = modules.section("modules")
    if section is None:
        return [f"{modules.path}: no [modules] section"]
    loaded = set(section.values("load")) | set(section.values("require"))
    autoload = (section.get("autoload") or "yes").lower() == "yes"
    problems: list[str] = []
    for context in dialplan.contexts.values():
        for extension in context.extensions:
            for step in extension.steps.values():
                needed = [(f"application {step.app}", APP_MODULES.get(step.app))]
                needed += [(f"function {f}()", FUNCTION_MODULES.get(f)) for f in _FUNCTION.findall(step.data)]
                if step.app == "Dial" and "U(" in step.data:
                    needed.append(("Dial's U() option", "app_stack.so"))
                for what, module in needed:
                    if module is None:
                        problems.append(f"{step.path or dialplan.path}:{step.line}: {what}: no module known for it")
                    elif module and not autoload and module not in loaded:
                        problems.append(f"{modules.path}: {module} is not loaded, but [{context.name}] uses {what}")
    return sorted(set(problems))


def check_pjsip(pjsip: ConfFile, dialplan: Dialplan) -> list[str]:
    problems: list[str] = []
    objects: dict[tuple[str, str], dict[str, str]] = {}
    for section in pjsip.sections:
        if section.is_template:
            continue
        options = _resolved(pjsip, section)
        objects[(options.get("type", ""), section.name)] = options
    if not any(t == "transport" and o.get("protocol") == "wss" for (t, _), o in objects.items()):
        problems.append(f"{pjsip.path}: no wss transport for the WebRTC phones")
    for (kind, name), options in objects.items():
        if kind != "endpoint":
            continue
        context = options.get("context", "default")
        if context not in dialplan.contexts:
            problems.append(f"{pjsip.path}: endpoint {name}: context {context} is not in the dialplan")
        for key, wanted in (("aors", "aor"), ("auth", "auth"), ("outbound_auth", "auth")):
            for ref in filter(None, (r.strip() for r in options.get(key, "").split(","))):
                if (wanted, ref) not in objects:
                    problems.append(f"{pjsip.path}: endpoint {name}: {key} {ref} is no {wanted} section")
        if name == contract.TRUNK_ENDPOINT and context != contract.INBOUND_CONTEXT:
            problems.append(f"{pjsip.path}: the trunk's context must be {contract.INBOUND_CONTEXT}")
        if context == contract.AGENT_PHONE_CONTEXT and dialplan.find(contract.CONNECT_CONTEXT, name) is None:
            problems.append(f"{pjsip.path}: agent {name}: [{contract.CONNECT_CONTEXT}] cannot dial this name")
        if name != contract.TRUNK_ENDPOINT:
            for key, value in WEBRTC.items():
                if options.get(key) != value:
                    problems.append(f"{pjsip.path}: phone {name}: {key} must be {value} (WebRTC)")
    for (kind, name), options in objects.items():
        if kind == "auth" and not options.get("password"):
            problems.append(f"{pjsip.path}: auth {name} has no password")
        if kind == "identify" and ("endpoint", options.get("endpoint", "")) not in objects:
            problems.append(f"{pjsip.path}: identify {name}: no endpoint {options.get('endpoint')}")
    return problems


def _resolved(conf: ConfFile, section: Section) -> dict[str, str]:
    """Options of one section (several may share a name: an endpoint and its AOR), templates first."""
    options: dict[str, str] = {}
    for template in section.templates:
        options.update(conf.resolved(template))
    for entry in section.entries:
        options[entry.key] = entry.value
    return options


def check_manager(manager: ConfFile) -> list[str]:
    problems: list[str] = []
    general = manager.section("general")
    bind = general.get("bindaddr", "0.0.0.0") if general else "0.0.0.0"
    try:
        address = ipaddress.ip_address(bind or "0.0.0.0")
        if not (address.is_private or address.is_loopback or address.is_unspecified):
            problems.append(f"{manager.path}: bindaddr {bind} is public: the AMI belongs on a private address")
    except ValueError:
        problems.append(f"{manager.path}: bindaddr {bind!r} is not an address")
    if general is not None and (general.get("webenabled") or "no").lower() != "no":
        problems.append(f"{manager.path}: webenabled must be no")
    users = [s for s in manager.sections if s.name != "general" and not s.is_template]
    if not users:
        problems.append(f"{manager.path}: no AMI user")
    for user in users:
        read = {c.strip() for c in (user.get("read") or "").split(",") if c.strip()}
        write = {c.strip() for c in (user.get("write") or "").split(",") if c.strip()}
        if read - AMI_READ or write - AMI_WRITE:
            problems.append(f"{manager.path}: user {user.name} has more than it needs: "
                            f"read {sorted(read - AMI_READ)}, write {sorted(write - AMI_WRITE)}")
        if not user.get("secret"):
            problems.append(f"{manager.path}: user {user.name} has no secret")
        if user.values("deny")[:1] != ["0.0.0.0/0.0.0.0"] or not user.values("permit"):
            problems.append(f"{manager.path}: user {user.name} must deny everyone, then permit its network")
        if not any(f.startswith("!Event: RTCP") for f in user.values("eventfilter")):
            problems.append(f"{manager.path}: user {user.name} should filter out RTCP reports")
    return problems


def check_http(http: ConfFile) -> list[str]:
    general = http.section("general")
    if general is None or (general.get("tlsenable") or "no").lower() != "yes":
        return [f"{http.path}: TLS must be on (the phones need WSS)"]
    problems = []
    if general.get("bindaddr") not in ("127.0.0.1", "::1"):
        problems.append(f"{http.path}: plain HTTP must stay on loopback")
    for key in ("tlsbindaddr", "tlscertfile", "tlsprivatekey"):
        if not general.get(key):
            problems.append(f"{http.path}: {key} is not set")
    return problems

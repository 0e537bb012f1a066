"""Running the dialplan on simulated channels: the applications our contract uses, as Asterisk runs them.

A channel's dialplan runs step after step (a `Newexten` each) until an application blocks (music on
hold, Wait, Playback, Dial ...). A blocking application is a `Running` on the channel; a timer, a
phone, a hangup or an AMI action ends it, and the dialplan goes on from there. The event order of each
case below is the one a recorded trace shows; the trace is named beside it.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from callcenter.asterisk.expressions import is_true, split_args, split_condition, substitute
from callcenter.simulator.channels import STATE_DOWN, STATE_RINGING, STATE_UP, UNKNOWN, Bridge, Channel
from callcenter.simulator.clock import Timer
from callcenter.simulator.prompts import SAY_DIGIT_SECONDS, prompt_seconds

if TYPE_CHECKING:
    from callcenter.simulator.agi import AgiSession
    from callcenter.simulator.pbx import Pbx

log = logging.getLogger(__name__)

ANSWER_DELAY = 0.02  # Answer() returns after Asterisk's short answer delay (traces: ~20 ms)
DIAL_VARIABLES = ("DIALSTATUS", "DIALEDPEERNUMBER", "DIALEDPEERNAME", "ANSWEREDTIME", "ANSWEREDTIME_MS",
                  "DIALEDTIME", "DIALEDTIME_MS", "RINGTIME", "RINGTIME_MS", "PROGRESSTIME", "PROGRESSTIME_MS")
DIAL_BRIDGE_PEER_ROUNDS = 3  # BRIDGEPEER is set again at each technology change (m, n, t, w)
ACTION_BRIDGE_PEER_ROUNDS = 4  # the Bridge application and action (o, p)


class Running:
    """A blocking application on a channel."""

    def __init__(self, channel: Channel, kind: str) -> None:
        self.channel = channel
        self.kind = kind
        self.timers: list[Timer] = []

    def cancel(self) -> None:
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()

    def stop_for_hangup(self) -> None:
        self.cancel()


class MusicOnHold(Running):
    def __init__(self, channel: Channel, pbx: Pbx) -> None:
        super().__init__(channel, "moh")
        self.pbx = pbx

    def stop_for_hangup(self) -> None:
        self.cancel()
        self.pbx.channel_event("MusicOnHoldStop", self.channel)


class Dial(Running):
    """Dial() on the caller: one outgoing leg, ringing, then bridged with the caller."""

    def __init__(self, channel: Channel, data: str, continue_on_peer_hangup: bool) -> None:
        super().__init__(channel, "dial")
        self.data = data
        self.leg: Channel | None = None
        self.bridged = False
        self.started_at = 0.0
        self.continue_on_peer_hangup = continue_on_peer_hangup
        self.subroutine: str | None = None  # U(context^arg1^...): run on the answered leg


class InBridge(Running):
    """A channel pulled into a bridge by the Bridge application or action; `after` is where it resumes."""

    def __init__(self, channel: Channel, kind: str, after: tuple[str, str, int] | None) -> None:
        super().__init__(channel, kind)
        self.after = after


class Spying(Running):
    """ChanSpy() on a supervisor's channel: looking for, or listening to, an agent's channel."""

    def __init__(self, channel: Channel, spec: str, options: str) -> None:
        super().__init__(channel, "chanspy")
        self.spec = spec  # channel name prefix: PJSIP/agent1001-
        self.options = options
        self.spyee: Channel | None = None


class Recording(Running):
    """Record() on a channel: the caller's voice into a file until the maximum or the hangup."""

    def __init__(self, channel: Channel, runner: DialplanRunner, file: str, started_at: float) -> None:
        super().__init__(channel, "record")
        self.runner = runner
        self.file = file
        self.started_at = started_at

    def finish(self, status: str) -> None:
        self.cancel()
        pbx = self.runner.pbx
        pbx.recorder.save(self.file, pbx.clock.now() - self.started_at)
        if not self.channel.gone:
            pbx.var_set(self.channel, "RECORDED_FILE", self.file.rsplit(".", 1)[0])
            pbx.var_set(self.channel, "RECORD_STATUS", status)

    def stop_for_hangup(self) -> None:
        self.finish("HANGUP")  # option k keeps what was recorded


class AgiRunning(Running):
    """AGI() on a channel: the conversation with the FastAGI server; the channel waits for it to end."""

    def __init__(self, channel: Channel, runner: DialplanRunner) -> None:
        super().__init__(channel, "agi")
        self.runner = runner
        self.session: AgiSession | None = None
        self.caller_gone = False
        self.finished = False

    def attach(self, session: AgiSession) -> None:
        self.session = session
        if self.caller_gone:
            session.caller_hung_up()

    def done(self, status: str) -> None:
        if not self.finished:
            self.finished = True
            self.runner.agi_done(self, status)

    def caller_hung_up(self) -> None:
        self.caller_gone = True
        if self.session is not None:
            self.session.caller_hung_up()

    def stop_for_hangup(self) -> None:
        self.finished = True
        if self.session is not None:
            self.session.server_closed()


class DialplanRunner:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.apps: dict[str, Callable[[Channel, str], bool]] = {
            "NoOp": lambda channel, data: True,
            "Verbose": lambda channel, data: True,
            "Log": lambda channel, data: True,
            "Answer": self._answer,
            "Set": self._set,
            "Goto": self._goto,
            "GotoIf": self._goto_if,
            "UserEvent": self._user_event,
            "MusicOnHold": self._music_on_hold,
            "Wait": self._wait,
            "Playback": self._playback,
            "SayNumber": self._say_number,
            "Hangup": self._hangup_app,
            "Dial": self._dial,
            "AGI": self._agi,
            "MixMonitor": self._mix_monitor,
            "StopMixMonitor": self._stop_mix_monitor,
            "Return": self._return,
            "ChanSpy": self._chan_spy,
            "Record": self._record,
        }

    # ---- stepping ------------------------------------------------------------------------------------
    def start(self, channel: Channel) -> None:
        channel.has_pbx = True
        self.run(channel)

    def goto(self, channel: Channel, context: str, exten: str, priority: int) -> None:
        channel.context, channel.exten, channel.priority = context, exten, priority

    def run(self, channel: Channel, *, announced: bool = False) -> None:
        """Run steps from the channel's place until one blocks or the channel ends.

        `announced`: the first step's Newexten was already sent (a Redirect out of a bridge does so).
        """
        while not channel.gone and channel.running is None:
            step = self.pbx.dialplan.step(channel.context, channel.exten, channel.priority)
            if step is None:  # the end of the dialplan: Asterisk hangs the channel up
                self._end_of_dialplan(channel)
                return
            data = self.substitute(channel, step.data)
            channel.application, channel.application_data = step.app, data
            if not announced:
                self.pbx.channel_event("Newexten", channel, "dialplan,all", Extension=channel.exten,
                                       Application=step.app, AppData=data)
            announced = False
            app = self.apps.get(step.app)
            if app is None:
                log.warning("simulated PBX: application %s (%s:%d) is not simulated; skipped", step.app,
                            self.pbx.dialplan.path, step.line)
                channel.priority += 1
                continue
            here = (channel.context, channel.exten, channel.priority)
            if app(channel, data) and (channel.context, channel.exten, channel.priority) == here:
                channel.priority += 1

    def _continue(self, channel: Channel) -> None:
        channel.running = None
        channel.priority += 1
        self.run(channel)

    def _end_of_dialplan(self, channel: Channel, cause: int = 16) -> None:
        self.pbx.channel_event("SoftHangupRequest", channel, Cause="16")
        self.pbx.destroy(channel, cause)

    # ---- substitution --------------------------------------------------------------------------------
    def substitute(self, channel: Channel, text: str) -> str:
        return substitute(text, lambda name: self.variable(channel, name),
                          lambda name, args: self.function(channel, name, args))

    def variable(self, channel: Channel, name: str) -> str:
        builtin = {
            "EXTEN": channel.exten, "CONTEXT": channel.context, "PRIORITY": str(channel.priority),
            "CHANNEL": channel.name, "UNIQUEID": channel.uniqueid, "HANGUPCAUSE": str(channel.hangupcause),
        }
        if name in builtin:
            return builtin[name]
        if name in channel.variables:
            return channel.variables[name]
        return self.pbx.dialplan.globals.get(name, "")

    def function(self, channel: Channel, name: str, args: str) -> str:
        args = self.substitute(channel, args)
        if name == "CALLERID":
            return {"all": channel.callerid_all, "num": channel.cid_num, "name": channel.cid_name}.get(
                args.strip().lower(), "")
        if name == "IF":
            condition, when_true, when_false = split_condition(args)
            return when_true if is_true(condition) else when_false
        if name == "LEN":
            return str(len(args))
        if name == "CHANNEL":
            return {"linkedid": channel.linkedid, "name": channel.name, "uniqueid": channel.uniqueid,
                    "language": channel.language}.get(args.strip().lower(), "")
        log.warning("simulated PBX: dialplan function %s() is not simulated; it gives ''", name)
        return ""

    # ---- simple applications (return True: go on to the next priority) -------------------------------
    def _answer(self, channel: Channel, data: str) -> bool:
        if channel.state == STATE_UP:
            return True
        self.pbx.set_state(channel, STATE_UP)
        self._sleep(channel, ANSWER_DELAY)
        return False

    def _set(self, channel: Channel, data: str) -> bool:
        name, separator, value = data.partition("=")
        if not separator:
            log.warning("simulated PBX: Set(%s) without '='", data)
            return True
        self.pbx.var_set(channel, name.strip().lstrip("_"), value)
        return True

    def _goto(self, channel: Channel, data: str) -> bool:
        place = self.pbx.dialplan.resolve(channel.context, channel.exten, data)
        if place is None:
            log.warning("simulated PBX: Goto(%s) from %s,%s leads nowhere; hanging up", data, channel.context,
                        channel.exten)
            self._end_of_dialplan(channel)
            return False
        self.goto(channel, *place)
        return True

    def _goto_if(self, channel: Channel, data: str) -> bool:
        condition, when_true, when_false = split_condition(data)
        target = when_true if is_true(condition) else when_false
        return True if not target else self._goto(channel, target)

    def _user_event(self, channel: Channel, data: str) -> bool:
        name, *headers = split_args(data)
        extra: dict[str, str] = {"UserEvent": name}
        for header in headers:
            key, _, value = header.partition(":")
            extra[key.strip()] = value.strip()
        self.pbx.channel_event("UserEvent", channel, "user,all", **extra)
        return True

    def _sleep(self, channel: Channel, seconds: float, then: Callable[[], None] | None = None) -> None:
        running = Running(channel, "sleep")
        channel.running = running
        running.timers.append(self.pbx.clock.call_later(seconds, then or (lambda: self._continue(channel))))

    def _wait(self, channel: Channel, data: str) -> bool:
        self._sleep(channel, _seconds(data))
        return False

    def _playback(self, channel: Channel, data: str) -> bool:
        files = split_args(data)[0].split("&")
        seconds = sum(prompt_seconds(f) for f in files)

        def played() -> None:
            channel.running = None
            self.pbx.var_set(channel, "PLAYBACKSTATUS", "SUCCESS")
            channel.priority += 1
            self.run(channel)

        self._sleep(channel, seconds, played)
        return False

    def _say_number(self, channel: Channel, data: str) -> bool:
        """Timed like the AGI's SAY NUMBER (a trace's measure per digit); nothing but Newexten is seen."""
        number = split_args(data)[0].strip()
        if not number.lstrip("-").isdigit():  # Asterisk warns and goes on
            log.warning("simulated PBX: SayNumber(%s) on %s is no number", data, channel.name)
            return True
        self._sleep(channel, SAY_DIGIT_SECONDS * len(number.lstrip("-")))
        return False

    def _music_on_hold(self, channel: Channel, data: str) -> bool:
        args = split_args(data)
        music_class = args[0].strip() or "default"
        duration = _seconds(args[1]) if len(args) > 1 else 0.0
        running = MusicOnHold(channel, self.pbx)
        channel.running = running
        self.pbx.channel_event("MusicOnHoldStart", channel, Class=music_class)
        if duration > 0:
            def ended() -> None:
                running.stop_for_hangup()
                self._continue(channel)

            running.timers.append(self.pbx.clock.call_later(duration, ended))
        return False

    def _mix_monitor(self, channel: Channel, data: str) -> bool:
        file, *rest = split_args(data)
        self.pbx.recorder.start(self.pbx, channel, file.strip(), rest[0] if rest else "")
        return True

    def _stop_mix_monitor(self, channel: Channel, data: str) -> bool:
        self.pbx.recorder.stop(self.pbx, channel, by_action=True)
        return True

    # ---- ChanSpy (g-chanspy) --------------------------------------------------------------------------
    SPY_SCAN_SECONDS = 1.0  # ChanSpy looks for a channel to spy on again after this (none found yet)
    SPY_START_DELAY = 0.1  # g: ChanSpyStart ~100 ms after the application starts

    def _chan_spy(self, channel: Channel, data: str) -> bool:
        spec, *rest = split_args(data)
        running = Spying(channel, spec.strip(), rest[0] if rest else "")
        channel.running = running
        running.timers.append(self.pbx.clock.call_later(self.SPY_START_DELAY, lambda: self._spy_scan(running)))
        return False

    def _spy_scan(self, running: Spying) -> None:
        spyer = running.channel
        if spyer.gone or spyer.running is not running:
            return
        bridged_only = "b" in running.options
        target = next((c for c in self.pbx.channels.values()
                       if c is not spyer and not c.gone and c.name.startswith(running.spec)
                       and (c.bridge is not None or not bridged_only)), None)
        if target is None:
            running.timers.append(self.pbx.clock.call_later(self.SPY_SCAN_SECONDS, lambda: self._spy_scan(running)))
            return
        running.spyee = target
        self.pbx.emit({"Event": "ChanSpyStart", "Privilege": "call,all", **spyer.block("Spyer"),
                       **target.block("Spyee")})

    def spyee_gone(self, channel: Channel) -> None:
        """g: the spied-on channel hangs up: ChanSpyStop before its Hangup; with E the spyer's dialplan
        goes on (after that Hangup), without E it looks for another channel."""
        for spyer in list(self.pbx.channels.values()):
            running = spyer.running
            if not isinstance(running, Spying) or running.spyee is not channel:
                continue
            self.pbx.emit({"Event": "ChanSpyStop", "Privilege": "call,all", **spyer.block("Spyer"),
                           **channel.block("Spyee")})
            running.spyee = None
            if "E" in running.options:
                self.pbx.clock.call_later(0, functools.partial(self._spy_over, spyer, running))
            else:
                running.timers.append(self.pbx.clock.call_later(self.SPY_SCAN_SECONDS,
                                                                functools.partial(self._spy_scan, running)))

    def _spy_over(self, spyer: Channel, running: Spying) -> None:
        if spyer.running is running and not spyer.gone:
            self._continue(spyer)

    def _record(self, channel: Channel, data: str) -> bool:
        """Record(file,silence,maxduration,options): no trace shows it; its variables are Asterisk's
        documented ones (RECORDED_FILE, RECORD_STATUS)."""
        file, *rest = split_args(data)
        most = _seconds(rest[1]) if len(rest) > 1 and rest[1].strip() else 0.0
        running = Recording(channel, self, file.strip(), self.pbx.clock.now())
        channel.running = running
        if most > 0:
            def timed_out() -> None:
                running.finish("TIMEOUT")
                self._continue(channel)

            running.timers.append(self.pbx.clock.call_later(most, timed_out))
        return False

    def _return(self, channel: Channel, data: str) -> bool:
        # only met inside run_subroutine, which stops at it; a Return outside a Gosub ends the channel
        self._end_of_dialplan(channel)
        return False

    def run_subroutine(self, channel: Channel, context: str, exten: str, args: list[str]) -> None:
        """Dial's U(): a Gosub on the answered leg before the bridge, run to its Return. Only applications
        that do not block belong in such a subroutine; one that would is skipped with a warning."""
        saved = (channel.context, channel.exten, channel.priority)
        saved_vars = {f"ARG{n}": channel.variables.get(f"ARG{n}") for n in range(1, len(args) + 1)}
        for n, arg in enumerate(args, start=1):
            channel.variables[f"ARG{n}"] = arg
        self.goto(channel, context, exten, 1)
        for _ in range(100):  # a subroutine that loops is cut off, as a safety net
            step = self.pbx.dialplan.step(channel.context, channel.exten, channel.priority)
            if step is None or channel.gone:
                break
            data = self.substitute(channel, step.data)
            self.pbx.channel_event("Newexten", channel, "dialplan,all", Extension=channel.exten,
                                   Application=step.app, AppData=data)
            if step.app == "Return":
                break
            if step.app in ("MixMonitor", "StopMixMonitor", "Set", "Goto", "GotoIf", "NoOp", "Verbose", "Log",
                            "UserEvent"):
                here = (channel.context, channel.exten, channel.priority)
                if self.apps[step.app](channel, data) and (channel.context, channel.exten, channel.priority) == here:
                    channel.priority += 1
                continue
            log.warning("simulated PBX: %s in the subroutine %s,%s is not simulated there; skipped", step.app,
                        context, exten)
            channel.priority += 1
        channel.context, channel.exten, channel.priority = saved
        for name, value in saved_vars.items():
            if value is None:
                channel.variables.pop(name, None)
            else:
                channel.variables[name] = value

    def _hangup_app(self, channel: Channel, data: str) -> bool:
        cause = int(data) if data.strip().isdigit() else 16
        self._end_of_dialplan(channel, cause)
        return False

    def _agi(self, channel: Channel, data: str) -> bool:
        url, *args = split_args(data)
        if self.pbx.agi_connector is None:
            # nobody to talk to: Asterisk sends no AGI events then, only AGISTATUS=FAILURE (app-queue README)
            self.pbx.var_set(channel, "AGISTATUS", "FAILURE")
            return True
        running = AgiRunning(channel, self)
        channel.running = running
        self.pbx.agi_connector(self.pbx, channel, url.strip(), args, running)
        return False

    def agi_done(self, running: AgiRunning, status: str) -> None:
        """s: after the server closes, AGISTATUS; a caller who hung up meanwhile is ended only now."""
        channel = running.channel
        if channel.gone or channel.running is not running:
            return
        channel.running = None
        if status == "HANGUP" or running.caller_gone:
            self.pbx.var_set(channel, "AGISTATUS", "HANGUP")
            self._end_of_dialplan(channel)
            return
        self.pbx.var_set(channel, "AGISTATUS", status)
        channel.priority += 1
        self.run(channel)

    # ---- Dial ----------------------------------------------------------------------------------------
    def _dial(self, channel: Channel, data: str) -> bool:
        from callcenter.simulator.pbx import Dialling

        args = split_args(data)
        target = args[0].split("&")[0].strip()
        timeout = _seconds(args[1]) if len(args) > 1 and args[1].strip() else 0.0
        options = args[2] if len(args) > 2 else ""
        subroutine = re.search(r"U\(([^)]*)\)", options)
        plain = re.sub(r"[A-Za-z]\([^)]*\)", "", options)  # options with arguments out, single letters kept
        running = Dial(channel, data, continue_on_peer_hangup="g" in plain)
        running.subroutine = subroutine[1] if subroutine else None
        running.started_at = self.pbx.clock.now()
        channel.running = running
        for name in DIAL_VARIABLES:
            self.pbx.var_set(channel, name, "")
        tech, _, resource = target.partition("/")
        # PJSIP/agent1001 rings an endpoint; PJSIP/5551234@cc-trunk dials a number over the trunk
        number, _, via = resource.partition("@")
        endpoint_name = via or number
        endpoint = self.pbx.endpoints.get(endpoint_name) if tech.upper() == "PJSIP" else None
        if endpoint is None or endpoint.phone is None:
            # no trace shows this: Asterisk gives CHANUNAVAIL without creating a channel
            self._dial_over(channel, "CHANUNAVAIL", None)
            return False
        # an endpoint with its own caller id (a phone) shows it; a trunk leg carries the caller's (h-originate)
        own_id = endpoint.cid_num not in ("", UNKNOWN)
        leg = self.pbx.new_channel(endpoint.name, context=endpoint.context, exten="s", state=STATE_DOWN,
                                   cid_num=endpoint.cid_num if own_id else UNKNOWN,
                                   cid_name=endpoint.cid_name if own_id else UNKNOWN, linkedid=channel.linkedid)
        running.leg = leg
        self.pbx.var_set(leg, "DIALEDPEERNUMBER", resource)
        if not own_id:
            leg.cid_num, leg.cid_name = channel.cid_num, channel.cid_name
        leg.dnid = number if via else ""
        # the dialled leg takes the dialling channel's extension (e-atxfer: Dial(PJSIP/agent1003) from
        # agents,1003 gives a leg at 1003), and its caller as connected line
        leg.exten, leg.connected_num, leg.connected_name = channel.exten, channel.cid_num, channel.cid_name
        leg.application, leg.application_data = "AppDial", "(Outgoing Line)"
        self.pbx.channel_event("Newexten", leg, "dialplan,all", Extension=leg.exten, Application="AppDial",
                               AppData="(Outgoing Line)")
        self.pbx.channel_event("NewConnectedLine", leg)
        if channel.is_local:
            self.pbx.transfers.target_dialled(channel)  # e-atxfer: the transferer moves to the consultation now
        self.pbx.set_state(leg, STATE_RINGING)
        self.pbx.emit({"Event": "DialBegin", "Privilege": "call,all", **channel.block(), **leg.block("Dest"),
                       "DialString": resource})
        self.pbx.set_connected(channel, leg.cid_num, leg.cid_name)
        self.pbx.var_set(channel, "RINGTIME", "0")
        self.pbx.var_set(channel, "RINGTIME_MS", "2")
        self.pbx.emit({"Event": "DialState", "Privilege": "call,all", **channel.block(), **leg.block("Dest"),
                       "DialStatus": "RINGING"})
        # t: the called party may transfer the caller (the bridge hooks the atxfer / blindxfer codes on it)
        dialling = Dialling(leg, channel, on_answer=lambda: self._dial_answered(running),
                            callee_may_transfer="t" in plain)
        leg.dialled_by = dialling
        if timeout > 0:
            dialling.timer = self.pbx.clock.call_later(timeout, lambda: self._dial_timed_out(running))
        self.pbx.ring_endpoint(leg)
        return False

    def _dial_timed_out(self, running: Dial) -> None:
        """n: DialEnd NOANSWER, the caller's dialplan goes on, and only then the agent leg hangs up."""
        channel, leg = running.channel, running.leg
        if leg is None or channel.gone:
            return
        self.pbx.stop_ringing(leg)
        self.pbx.emit({"Event": "DialEnd", "Privilege": "call,all", **channel.block(), **leg.block("Dest"),
                       "DialStatus": "NOANSWER"})
        self.pbx.clock.call_later(0, lambda: self.pbx.destroy(leg, 0))
        self._dial_over(channel, "NOANSWER", 0)

    def _dial_over(self, channel: Channel, status: str, cause: int | None) -> None:
        self.pbx.var_set(channel, "DIALSTATUS", status)
        if cause is not None:
            channel.hangupcause = cause
        self._continue(channel)

    def _dial_answered(self, running: Dial) -> None:
        """m: DialEnd ANSWER, then the bridge with the agent leg first."""
        channel, leg = running.channel, running.leg
        assert leg is not None
        self.pbx.var_set(channel, "DIALSTATUS", "ANSWER")
        self.pbx.var_set(channel, "DIALEDPEERNAME", leg.name)
        self.pbx.var_set(channel, "DIALEDPEERNUMBER", leg.variables.get("DIALEDPEERNUMBER", leg.endpoint))
        leg.exten = ""
        self.pbx.emit({"Event": "DialEnd", "Privilege": "call,all", **channel.block(), **leg.block("Dest"),
                       "DialStatus": "ANSWER"})
        if running.subroutine is not None:
            # No trace shows Dial's U(); Asterisk runs it on the answered leg before the bridge.
            context, *args = running.subroutine.split("^")
            self.run_subroutine(leg, context, "s", args)
        transfers = self.pbx.transfers
        consulting = transfers.of_local(channel) is not None  # e-atxfer: `;2` of an attended transfer's pair
        if consulting:
            transfers.answering(channel)
        bridge = self.pbx.new_bridge()
        if consulting:
            transfers.answered(channel)
        self.pbx.channel_event("Newexten", leg, "dialplan,all", Extension="", Application="AppDial",
                               AppData="(Outgoing Line)")
        self.pbx.enter_bridge(bridge, leg)
        self.pbx.enter_bridge(bridge, channel)
        running.bridged = True
        leg.running = InBridge(leg, "dialled", None)
        if consulting:
            transfers.bridged(channel, bridge)  # a bridge with a Local channel stays a simple_bridge
            return
        self.pbx.bridge_peers(bridge, DIAL_BRIDGE_PEER_ROUNDS, order=(1, 0))
        bridge.technology = "native_rtp"  # two RTP legs settle on native_rtp; the switch sends no event

    def _dial_bridge_over(self, running: Dial, *, caller_goes_on: bool) -> None:
        """The caller's Dial ends after the bridge did: its variables, and the dialplan goes on."""
        channel = running.channel
        elapsed = self.pbx.clock.now() - (channel.answered_at or running.started_at)
        for name, value in (("ANSWEREDTIME", str(int(elapsed))), ("ANSWEREDTIME_MS", str(int(elapsed * 1000))),
                            ("DIALEDTIME", str(int(elapsed))), ("DIALEDTIME_MS", str(int(elapsed * 1000))),
                            ("DIALSTATUS", "ANSWER")):
            self.pbx.var_set(channel, name, value)
        channel.running = None
        if caller_goes_on:
            channel.priority += 1
            self.run(channel)

    def digit(self, channel: Channel, digit: str) -> None:
        running = channel.running
        if isinstance(running, AgiRunning) and running.session is not None:
            running.session.dtmf(digit)

    # ---- Redirect ------------------------------------------------------------------------------------
    def redirect(self, channel: Channel, context: str, exten: str, priority: int) -> None:
        running = channel.running
        if isinstance(running, Dial) and running.bridged and running.leg is not None:
            self._redirect_out_of_dial(channel, running, context, exten, priority)
            return
        if isinstance(running, Dial) and running.leg is not None and not running.leg.gone:
            # No trace shows a Redirect while the Dial still rings; Asterisk cancels the Dial: DialEnd
            # CANCEL, the ringing leg hangs up (cause 0, as the cancelled legs of b-abandon), the caller
            # goes on at its new place.
            leg = running.leg
            running.cancel()
            self.pbx.stop_ringing(leg)
            self.pbx.emit({"Event": "DialEnd", "Privilege": "call,all", **channel.block(), **leg.block("Dest"),
                           "DialStatus": "CANCEL"})
            self.pbx.clock.call_later(0, lambda: self.pbx.destroy(leg, 0))
            channel.running = None
            self.goto(channel, context, exten, priority)
            self.run(channel)
            return
        if running is not None:
            running.stop_for_hangup()  # m: the music stops first (MusicOnHoldStop)
            channel.running = None
            if isinstance(running, InBridge) and channel.bridge is not None:
                self._leave_and_end_bridge(channel)
        self.goto(channel, context, exten, priority)
        channel.has_pbx = True
        self.run(channel)

    def _redirect_out_of_dial(self, channel: Channel, running: Dial, context: str, exten: str,
                              priority: int) -> None:
        """w: a stale Newexten (new place, old Dial), the caller leaves, its dialplan runs on, then the
        agent leg leaves, the bridge goes and the agent leg hangs up (no HangupRequest, no DialEnd)."""
        leg = running.leg
        assert leg is not None
        self.pbx.clear_bridge_peers(channel)
        self.goto(channel, context, exten, priority)
        self.pbx.channel_event("Newexten", channel, "dialplan,all", Extension=exten, Application="Dial",
                               AppData=running.data)
        bridge = self.pbx.leave_bridge(channel)
        self.pbx.var_set(channel, "DIALSTATUS", "ANSWER")
        channel.running = None
        step = self.pbx.dialplan.step(context, exten, priority)
        if step is not None and step.app in self.apps:
            data = self.substitute(channel, step.data)
            here = (channel.context, channel.exten, channel.priority)
            if self.apps[step.app](channel, data) and (channel.context, channel.exten, channel.priority) == here:
                channel.priority += 1
            self.run(channel)
        if bridge is not None:
            self.pbx.leave_bridge(leg)
            self.pbx.destroy_bridge(bridge)
        self.pbx.destroy(leg, 16)

    # ---- hangups -------------------------------------------------------------------------------------
    def in_action_bridge(self, channel: Channel) -> bool:
        return isinstance(channel.running, InBridge) and channel.running.kind == "action"

    def far_end_gone(self, channel: Channel, cause: int) -> None:
        """The phone or the trunk hung up (HangupRequest already sent)."""
        transfers = self.pbx.transfers
        if transfers.transferer_gone(channel, cause) or transfers.transferee_gone(channel, cause):
            return  # e-atxfer: the transferer's hangup completes the transfer
        running = channel.running
        if isinstance(running, AgiRunning):
            running.caller_hung_up()  # s: the channel lives on until the FastAGI server closes
        elif isinstance(running, Spying):
            if running.spyee is not None:  # the supervisor hangs up while listening
                self.pbx.emit({"Event": "ChanSpyStop", "Privilege": "call,all", **channel.block("Spyer"),
                               **running.spyee.block("Spyee")})
            running.cancel()
            channel.running = None
            self.pbx.channel_event("SoftHangupRequest", channel, Cause="16")
            self.pbx.destroy(channel, cause)
        elif isinstance(running, Dial) and running.bridged and running.leg is not None:
            self._caller_left_dial_bridge(channel, running)
        elif isinstance(running, InBridge) and running.kind == "dialled":
            self._agent_left_dial_bridge(channel)
        elif isinstance(running, InBridge):
            self._left_yanked_bridge(channel, running, cause)
        elif isinstance(running, Dial) and running.leg is not None:
            self._caller_left_while_ringing(channel, running, cause)
        elif isinstance(channel.dialled_by, object) and channel.dialled_by is not None and not channel.has_pbx:
            self._ringing_leg_rejected(channel, cause)
        else:
            if running is not None:
                running.stop_for_hangup()
                channel.running = None
            if channel.has_pbx:
                self.pbx.channel_event("SoftHangupRequest", channel, Cause="16")
            self.pbx.destroy(channel, cause)

    def _caller_left_dial_bridge(self, channel: Channel, running: Dial) -> None:
        """n.4: the caller's BYE while talking: both leave, the Dial ends, the caller goes, then the agent."""
        leg = running.leg
        assert leg is not None
        self.pbx.clear_bridge_peers(channel)
        bridge = self.pbx.leave_bridge(channel)
        self.pbx.leave_bridge(leg)
        self._dial_bridge_over(running, caller_goes_on=False)
        if bridge is not None:
            self.pbx.destroy_bridge(bridge)
        self.pbx.channel_event("SoftHangupRequest", channel, Cause="16")
        self.pbx.destroy(channel, 16)
        self.pbx.destroy(leg, 16)

    def caller_gone(self, channel: Channel, cause: int) -> None:
        """The calling side of a Dial ends without a BYE of its own (a Local `;2` whose `;1` hung up)."""
        self.far_end_gone(channel, cause)

    def agent_left_dial_bridge(self, leg: Channel) -> None:
        self._agent_left_dial_bridge(leg)

    def dial_ended_in_bridge(self, running: Dial) -> None:
        """The Dial's variables once its bridge is over; its channel's dialplan does not go on."""
        self._dial_bridge_over(running, caller_goes_on=False)

    def _agent_left_dial_bridge(self, leg: Channel) -> None:
        """m.5: the agent's BYE: both leave, the caller's dialplan goes on, then bridge and leg go."""
        bridge = leg.bridge
        caller = next((c for c in bridge.channels if c is not leg), None) if bridge else None
        self.pbx.clear_bridge_peers(leg)
        self.pbx.leave_bridge(leg)
        if caller is not None:
            self.pbx.leave_bridge(caller)
            caller.hangupcause = 16
            running = caller.running
            if isinstance(running, Dial):
                self._dial_bridge_over(running, caller_goes_on=running.continue_on_peer_hangup)
                if not running.continue_on_peer_hangup and not caller.gone:
                    self._end_of_dialplan(caller)
        if bridge is not None:
            self.pbx.destroy_bridge(bridge)
        self.pbx.destroy(leg, 16)

    def _left_yanked_bridge(self, channel: Channel, running: InBridge, cause: int) -> None:
        """o.5 (caller of a Bridge application) and p.3 (agent of a Bridge action)."""
        bridge = channel.bridge
        others = [c for c in bridge.channels if c is not channel] if bridge else []
        if running.kind == "bridge-app-target":
            # o.5: both leave, the bridge goes, BRIDGERESULT on the originated leg, then both hang up
            self.pbx.clear_bridge_peers(channel)
            self.pbx.leave_bridge(channel)
            for other in others:
                self.pbx.leave_bridge(other)
            if bridge is not None:
                self.pbx.destroy_bridge(bridge)
            for other in others:
                self.pbx.var_set(other, "BRIDGERESULT", "SUCCESS")
            self.pbx.destroy(channel, cause)
            for other in others:
                self.pbx.destroy(other, cause)
            return
        # p.3: this one leaves and hangs up; the other leaves, the bridge goes, the other resumes
        self.pbx.clear_bridge_peers(channel)
        self.pbx.leave_bridge(channel)
        self.pbx.destroy(channel, cause)
        for other in others:
            self._leave_and_end_bridge(other)

    def _leave_and_end_bridge(self, channel: Channel) -> None:
        """`channel` leaves its bridge; the bridge ends; a channel pulled in by Bridge resumes its dialplan."""
        bridge = self.pbx.leave_bridge(channel)
        running = channel.running
        if bridge is not None and not bridge.channels:
            self.pbx.destroy_bridge(bridge)
        elif bridge is not None:
            for other in list(bridge.channels):
                self._leave_and_end_bridge(other)
        if isinstance(running, InBridge):
            channel.running = None
            if running.after is not None:
                self.goto(channel, *running.after)
                self.run(channel)
            elif running.kind == "bridge-app":
                self.pbx.var_set(channel, "BRIDGERESULT", "SUCCESS")
                self.pbx.destroy(channel, 16)

    def _caller_left_while_ringing(self, channel: Channel, running: Dial, cause: int) -> None:
        # No contract trace shows this; app_queue's abandon (b-abandon) cancels the ringing leg with
        # DialEnd CANCEL and hangs it up with cause 0, which is what this does.
        leg = running.leg
        assert leg is not None
        running.cancel()
        self.pbx.stop_ringing(leg)
        self.pbx.emit({"Event": "DialEnd", "Privilege": "call,all", **channel.block(), **leg.block("Dest"),
                       "DialStatus": "CANCEL"})
        self.pbx.channel_event("SoftHangupRequest", channel, Cause="16")
        self.pbx.destroy(channel, cause)
        self.pbx.destroy(leg, 0)

    def _ringing_leg_rejected(self, leg: Channel, cause: int) -> None:
        # No contract trace: a phone that declines. Asterisk reports BUSY for 486/17, else CONGESTION.
        dialling = leg.dialled_by
        from callcenter.simulator.pbx import Dialling

        if isinstance(dialling, Dialling) and dialling.caller is not None:
            caller = dialling.caller
            running = caller.running
            if isinstance(running, Dial):
                running.cancel()
            status = "BUSY" if cause == 17 else "CONGESTION"
            self.pbx.emit({"Event": "DialEnd", "Privilege": "call,all", **caller.block(), **leg.block("Dest"),
                           "DialStatus": status})
            self.pbx.destroy(leg, cause)
            self._dial_over(caller, status, cause)
            return
        if isinstance(dialling, Dialling) and dialling.on_fail is not None:
            dialling.on_fail(0, None)
            return
        self.pbx.destroy(leg, cause)

    def hangup_requested(self, channel: Channel, cause: int | None) -> None:
        """The AMI Hangup action (after its response)."""
        if channel.gone:
            return
        transfers = self.pbx.transfers
        if transfers.transferer_gone(channel, cause) or transfers.transferee_gone(channel, cause or 16):
            return  # no trace: as the phone's hangup would, without a HangupRequest
        running = channel.running
        from callcenter.simulator.pbx import Dialling

        dialling = channel.dialled_by
        if isinstance(dialling, Dialling) and not dialling.answered and dialling.caller is None:
            # q.2: a ringing originated leg: DialEnd NOANSWER, OriginateResponse Failure 0, Hangup 0
            if dialling.timer is not None:
                dialling.timer.cancel()
            self.pbx.stop_ringing(channel)
            self.pbx.emit({"Event": "DialEnd", "Privilege": "call,all", **channel.block("Dest"),
                           "DialStatus": "NOANSWER"})
            if dialling.on_fail is not None:
                dialling.on_fail(0, None)
            self.pbx.destroy(channel, 0)
            return
        if isinstance(running, Dial) and running.bridged and running.leg is not None:
            # t: the bridged caller: peers cleared, it leaves, the Dial ends, then the agent and the bridge
            leg = running.leg
            self.pbx.clear_bridge_peers(channel)
            bridge = self.pbx.leave_bridge(channel)
            self._dial_bridge_over(running, caller_goes_on=False)
            self.pbx.channel_event("SoftHangupRequest", channel, Cause="16")
            self.pbx.leave_bridge(leg)
            if bridge is not None:
                self.pbx.destroy_bridge(bridge)
            self.pbx.destroy(channel, cause if cause is not None else 16)
            self.pbx.destroy(leg, 16)
            return
        # t: a waiting caller: its music stops, the PBX ends it; without a Cause the Hangup says 0
        if running is not None:
            running.stop_for_hangup()
            channel.running = None
        if channel.bridge is not None:
            self._left_yanked_bridge(channel, InBridge(channel, "action", None), cause or 0)
            return
        if channel.has_pbx:
            self.pbx.channel_event("SoftHangupRequest", channel, Cause="16")
        self.pbx.destroy(channel, cause if cause is not None else 0)

    # ---- the Bridge application and action -----------------------------------------------------------
    def bridge_channels(self, first: Channel, second: Channel, *, kind: str) -> Bridge:
        """p.2 (action: both yanked, each resumes after) and o.4 (application: only the target yanked)."""
        bridge = self.pbx.new_bridge()
        for channel in (first, second):
            running = channel.running
            if kind == "bridge-app" and channel is second:
                channel.running = InBridge(channel, "bridge-app", None)
            else:
                if running is not None:
                    running.stop_for_hangup() if isinstance(running, MusicOnHold) else running.cancel()
                after = (channel.context, channel.exten, channel.priority + 1) if channel.has_pbx else None
                if after is not None:
                    channel.priority += 1
                channel.running = InBridge(channel, "bridge-app-target" if kind == "bridge-app" else "action",
                                           after if kind == "bridge-action" else None)
            if channel is second:
                channel.linkedid = first.linkedid
            self.pbx.enter_bridge(bridge, channel)
        # The caller's connected line changes while the bridge settles: o shows it after two rounds of
        # BRIDGEPEER, p after three (a race between two threads); this takes o's.
        self.pbx.bridge_peers(bridge, ACTION_BRIDGE_PEER_ROUNDS // 2, order=(1, 0))
        self.pbx.set_connected(first, second.cid_num, second.cid_name)
        self.pbx.bridge_peers(bridge, ACTION_BRIDGE_PEER_ROUNDS - ACTION_BRIDGE_PEER_ROUNDS // 2, order=(1, 0))
        bridge.technology = "native_rtp"
        return bridge


def _seconds(text: str) -> float:
    try:
        return max(float(text.strip()), 0.0)
    except ValueError:
        return 0.0

"""AGI() in the simulated PBX: Asterisk's side of FastAGI, toward our IVR server.

`AgiSession` is Asterisk's half of one FastAGI conversation, without I/O: it writes the `agi_*`
environment, takes command lines, runs them on the channel and answers with Asterisk's result
lines, with the AMI events Asterisk sends (AGIExecStart / AGIExecEnd). `FastAgiClient` carries a
session over TCP. What it does is the s-agi-ivr trace (and its byte transcript):

- every line ends in a bare LF; the environment ends with an empty line; `agi_accountcode: ` keeps
  its space;
- ANSWER `200 result=0`; STREAM FILE `200 result=0 endpos=<samples>` after the prompt played (and
  PLAYBACKSTATUS); GET DATA returns at its max digits, `200 result=1234`; SAY DIGITS `200 result=0`;
  SET VARIABLE `200 result=1`;
- a caller hanging up during a command: that command is answered `200 result=-1`, then `HANGUP` about
  40 ms later; then commands that need a live channel get `511 Command Not Permitted on a dead
  channel or intercept routine` while SET/GET VARIABLE still work; Asterisk waits for the server to
  close, then sets AGISTATUS=HANGUP and ends the channel;
- the server closing the socket while the caller is there: AGISTATUS=SUCCESS and the dialplan goes on;
  nobody listening: AGISTATUS=FAILURE, no AGI events.
"""

from __future__ import annotations

import asyncio
import logging
import random
import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from callcenter.simulator.channels import STATE_UP, Channel
from callcenter.simulator.prompts import SAMPLE_RATE, SAY_DIGIT_SECONDS, prompt_seconds

if TYPE_CHECKING:
    from callcenter.simulator.pbx import Pbx

log = logging.getLogger(__name__)

AGI_VERSION = "22.10.1"
HANGUP_NOTICE_DELAY = 0.04  # the HANGUP line follows the answer to the pending command (s: ~40 ms)
DEAD = "511 Command Not Permitted on a dead channel or intercept routine"
DEAD_TEXT = "Command Not Permitted on a dead channel or intercept routine"
# Commands Asterisk still runs once the channel is gone (res_agi marks them "dead" capable).
ALLOWED_ON_DEAD = {"SET VARIABLE", "GET VARIABLE", "GET FULL VARIABLE", "VERBOSE", "NOOP", "HANGUP",
                   "CHANNEL STATUS", "SET CONTEXT", "SET EXTENSION", "SET PRIORITY", "SET CALLERID"}


class AgiSession:
    """Asterisk's side of one AGI conversation on one channel."""

    def __init__(self, pbx: Pbx, channel: Channel, url: str, args: list[str], send: Callable[[str], None],
                 rng: random.Random | None = None) -> None:
        self.pbx = pbx
        self.channel = channel
        self.url = url
        self.args = args
        self.send = send  # writes one line (with its LF) to the FastAGI server
        self.rng = rng or random.Random()
        self.dead = False  # the caller hung up: HANGUP was (or is about to be) sent
        self.pending: Callable[[str], None] | None = None  # answers the command in progress
        self.busy = False
        self.digits: list[str] = []
        self.on_digit: Callable[[str], None] | None = None
        self.finished = False

    # ---- the conversation ----------------------------------------------------------------------------
    def environment(self) -> list[str]:
        c = self.channel
        script = self.url.split("://", 1)[-1].partition("/")[2]
        lines = [
            "agi_network: yes", f"agi_network_script: {script}", f"agi_request: {self.url}",
            f"agi_channel: {c.name}", f"agi_language: {c.language}", "agi_type: PJSIP", f"agi_uniqueid: {c.uniqueid}",
            f"agi_version: {AGI_VERSION}", f"agi_callerid: {c.cid_num}", f"agi_calleridname: {c.cid_name}",
            "agi_callingpres: 0", "agi_callingani2: 0", "agi_callington: 0", "agi_callingtns: 0",
            f"agi_dnid: {c.dnid or 'unknown'}", "agi_rdnis: unknown", f"agi_context: {c.context}",
            f"agi_extension: {c.exten}", f"agi_priority: {c.priority}", "agi_enhanced: 0.0",
            f"agi_accountcode: {c.accountcode}", f"agi_threadid: {self.rng.randrange(10**14, 10**15)}",
        ]
        lines += [f"agi_arg_{n}: {arg}" for n, arg in enumerate(self.args, start=1)]
        return [*lines, ""]

    def begin(self) -> None:
        for line in self.environment():
            self.send(line + "\n")

    def command(self, line: str) -> None:
        """One command line from the server (its LF stripped)."""
        if self.finished:
            return
        text = line.strip()
        if not text:
            return
        if self.busy:
            log.warning("simulated AGI: %s sent %r before the last command was answered", self.channel.name, text)
            return
        name, words = _parse(text)
        command_id = str(self.rng.randrange(10**8, 2**31))

        def answer(result: str) -> None:
            self.busy = False
            self.pending = None
            code, _, rest = result.partition(" ")
            if not self.channel.gone:
                outcome = {"200": "Success", "511": DEAD_TEXT}.get(code, rest or "Failure")
                self._event("AGIExecEnd", command_id, text, ResultCode=code, Result=outcome)
            self.send(result + "\n")

        if self.dead and name not in ALLOWED_ON_DEAD:
            self._dead_event(command_id, text)
            self.send(DEAD + "\n")
            return
        if not self.channel.gone:  # s: a hung-up caller's channel still shows the commands it may run
            self._event("AGIExecStart", command_id, text)
        self.busy = True
        self.pending = answer
        handler = _COMMANDS.get(name)
        if handler is None:
            answer("510 Invalid or unknown command")
            return
        handler(self, words, answer)

    def _dead_event(self, command_id: str, text: str) -> None:
        # s: the AMI still shows the refused command (ResultCode 511) while the channel waits for us
        if not self.channel.gone:
            self._event("AGIExecStart", command_id, text)
            self._event("AGIExecEnd", command_id, text, ResultCode="511", Result=DEAD_TEXT)

    def _event(self, name: str, command_id: str, text: str, **extra: str) -> None:
        self.pbx.channel_event(name, self.channel, "agi,all", CommandId=command_id, Command=text, **extra)

    def caller_hung_up(self) -> None:
        """The channel's far end is gone (HangupRequest sent): answer -1 now, HANGUP a little later."""
        if self.dead:
            return
        self.dead = True
        if self.pending is not None:
            self.pending("200 result=-1")
        self.pbx.clock.call_later(HANGUP_NOTICE_DELAY, lambda: self.send("HANGUP\n"))

    def dtmf(self, digit: str) -> None:
        if self.on_digit is not None:
            self.on_digit(digit)

    def server_closed(self) -> None:
        """The server closed the socket: nothing more is read or answered."""
        self.finished = True
        self.busy = False
        self.pending = None
        self.on_digit = None


def _parse(text: str) -> tuple[str, list[str]]:
    try:
        words = shlex.split(text, posix=True)
    except ValueError:
        words = text.split()
    upper = [w.upper() for w in words]
    for size in (3, 2, 1):
        name = " ".join(upper[:size])
        if name in _COMMANDS or name in ALLOWED_ON_DEAD:
            return name, words[size:]
    return " ".join(upper[:2]), words[2:]


Answer = Callable[[str], None]


def _answer(session: AgiSession, words: list[str], answer: Answer) -> None:
    if session.channel.state != STATE_UP:
        session.pbx.set_state(session.channel, STATE_UP)
    answer("200 result=0")


def _stream_file(session: AgiSession, words: list[str], answer: Answer) -> None:
    name = words[0] if words else ""
    escape = words[1] if len(words) > 1 else ""
    seconds = prompt_seconds(name)
    timer = None

    def played() -> None:
        session.on_digit = None
        if session.pending is not answer_once:
            return
        session.pbx.var_set(session.channel, "PLAYBACKSTATUS", "SUCCESS")
        answer_once(f"200 result=0 endpos={round(seconds * SAMPLE_RATE)}")

    def answer_once(result: str) -> None:
        if timer is not None:
            timer.cancel()
        session.on_digit = None
        answer(result)

    def pressed(digit: str) -> None:
        if digit in escape:
            answer_once(f"200 result={ord(digit)} endpos={round(seconds * SAMPLE_RATE / 2)}")

    session.pending = answer_once
    session.on_digit = pressed
    timer = session.pbx.clock.call_later(seconds, played)


def _get_data(session: AgiSession, words: list[str], answer: Answer) -> None:
    """GET DATA file [timeout ms] [max digits]: the prompt, then digits until the max or the timeout."""
    timeout = int(words[1]) / 1000 if len(words) > 1 and words[1].isdigit() else 5.0
    most = int(words[2]) if len(words) > 2 and words[2].isdigit() else 1024
    collected: list[str] = []
    timer = session.pbx.clock.call_later(timeout, lambda: finish(" (timeout)"))

    def finish(suffix: str = "") -> None:
        timer.cancel()
        session.on_digit = None
        if session.pending is finish_answer:
            answer(f"200 result={''.join(collected)}{suffix if not collected or suffix else ''}")

    def finish_answer(result: str) -> None:
        timer.cancel()
        session.on_digit = None
        answer(result)

    def pressed(digit: str) -> None:
        if digit == "#":
            finish()
            return
        collected.append(digit)
        if len(collected) >= most:
            finish()

    session.pending = finish_answer
    session.on_digit = pressed


def _say_digits(session: AgiSession, words: list[str], answer: Answer) -> None:
    digits = words[0] if words else ""
    session.pbx.clock.call_later(SAY_DIGIT_SECONDS * len(digits), lambda: _if_pending(session, answer, "200 result=0"))


def _wait_for_digit(session: AgiSession, words: list[str], answer: Answer) -> None:
    timeout = int(words[0]) / 1000 if words and words[0].lstrip("-").isdigit() and int(words[0]) >= 0 else 3600.0
    timer = session.pbx.clock.call_later(timeout, lambda: _if_pending(session, answer, "200 result=0"))

    def pressed(digit: str) -> None:
        timer.cancel()
        session.on_digit = None
        _if_pending(session, answer, f"200 result={ord(digit)}")

    session.on_digit = pressed


def _if_pending(session: AgiSession, answer: Answer, result: str) -> None:
    if session.busy and not session.dead:
        answer(result)


def _set_variable(session: AgiSession, words: list[str], answer: Answer) -> None:
    if len(words) < 2:
        answer("520 Invalid command syntax.  Proper usage not available.")
        return
    session.pbx.var_set(session.channel, words[0], words[1])
    answer("200 result=1")


def _get_variable(session: AgiSession, words: list[str], answer: Answer) -> None:
    name = words[0] if words else ""
    value = session.pbx.runner.variable(session.channel, name) if name else ""
    answer(f"200 result=1 ({value})" if value else "200 result=0")


def _get_full_variable(session: AgiSession, words: list[str], answer: Answer) -> None:
    value = session.pbx.runner.substitute(session.channel, words[0]) if words else ""
    answer(f"200 result=1 ({value})" if value else "200 result=0")


def _hangup(session: AgiSession, words: list[str], answer: Answer) -> None:
    answer("200 result=1")
    if not session.channel.gone and not session.dead:
        session.pbx.clock.call_later(0, lambda: session.pbx.remote_hangup(session.channel, 16))


def _simple(result: str) -> Callable[[AgiSession, list[str], Answer], None]:
    return lambda session, words, answer: answer(result)


def _channel_status(session: AgiSession, words: list[str], answer: Answer) -> None:
    answer(f"200 result={6 if session.channel.state == STATE_UP else 4}")


_COMMANDS: dict[str, Callable[[AgiSession, list[str], Answer], None]] = {
    "ANSWER": _answer, "STREAM FILE": _stream_file, "GET DATA": _get_data, "SAY DIGITS": _say_digits,
    "SAY NUMBER": _say_digits, "WAIT FOR DIGIT": _wait_for_digit, "SET VARIABLE": _set_variable,
    "GET VARIABLE": _get_variable, "GET FULL VARIABLE": _get_full_variable, "HANGUP": _hangup,
    "VERBOSE": _simple("200 result=1"), "NOOP": _simple("200 result=0"), "CHANNEL STATUS": _channel_status,
}


class FastAgiClient(asyncio.Protocol):
    """One TCP connection to a FastAGI server, carrying one session."""

    def __init__(self, make_session: Callable[[Callable[[str], None]], AgiSession],
                 on_closed: Callable[[AgiSession], None]) -> None:
        self.make_session = make_session
        self.on_closed = on_closed
        self.transport: asyncio.Transport | None = None
        self.session: AgiSession | None = None
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.session = self.make_session(self._write)
        self.session.begin()

    def _write(self, line: str) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(line.encode("utf-8"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > 64 * 1024 and b"\n" not in self.buffer:
            log.warning("simulated AGI: the server sent 64 KiB without a line end; closing")
            self.buffer = b""
            if self.transport is not None:
                self.transport.close()
            return
        *lines, self.buffer = self.buffer.split(b"\n")
        for raw in lines:
            if self.session is not None:
                self.session.command(raw.decode("utf-8", errors="replace").rstrip("\r"))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.session is not None:
            self.on_closed(self.session)



class AgiCall(Protocol):
    """The AGI() application on the channel, as the transport sees it (dialplan_runner.AgiRunning)."""

    def attach(self, session: AgiSession) -> None: ...

    def done(self, status: str) -> None: ...  # SUCCESS (server closed, caller there), HANGUP, FAILURE


AgiConnector = Callable[["Pbx", Channel, str, list[str], AgiCall], None]


def server_closed(session: AgiSession, call: AgiCall) -> None:
    """The FastAGI server closed its socket: the AGI() application ends with its status."""
    session.server_closed()
    call.done("HANGUP" if session.dead or session.channel.gone else "SUCCESS")


def parse_agi_url(url: str) -> tuple[str, int, str] | None:
    """`agi://host[:port]/script` → (host, port, script); FastAGI's port defaults to 4573."""
    if not url.startswith("agi://"):
        return None
    authority, _, script = url[len("agi://"):].partition("/")
    host, _, port = authority.partition(":")
    if not host or (port and not port.isdigit()):
        return None
    return host, int(port or 4573), script


class FastAgiConnector:
    """Opens one TCP connection per AGI() to the FastAGI server the URL names (the live simulator)."""

    def __init__(self, connect_timeout: float = 2.0, rng: random.Random | None = None) -> None:
        self.connect_timeout = connect_timeout
        self.rng = rng or random.Random()
        self._tasks: set[asyncio.Task[None]] = set()  # owned until done
        self.failures = 0

    def __call__(self, pbx: Pbx, channel: Channel, url: str, args: list[str], call: AgiCall) -> None:
        target = parse_agi_url(url)
        if target is None:
            log.warning("simulated AGI: %r is no agi:// URL; AGISTATUS=FAILURE", url)
            pbx.clock.call_later(0, lambda: call.done("FAILURE"))
            return

        def make(send: Callable[[str], None]) -> AgiSession:
            session = AgiSession(pbx, channel, url, args, send, self.rng)
            call.attach(session)
            return session

        def closed(session: AgiSession) -> None:
            server_closed(session, call)

        async def connect() -> None:
            loop = asyncio.get_running_loop()
            try:
                await asyncio.wait_for(loop.create_connection(lambda: FastAgiClient(make, closed), target[0],
                                                              target[1]), self.connect_timeout)
            except (OSError, TimeoutError) as exc:
                self.failures += 1
                # said once loudly, then quietly: without an IVR server every call would repeat it
                log.log(logging.WARNING if self.failures == 1 else logging.DEBUG,
                        "simulated AGI: cannot reach %s:%d (%s); AGISTATUS=FAILURE, the dialplan goes on",
                        target[0], target[1], exc)
                call.done("FAILURE")

        task = asyncio.get_running_loop().create_task(connect())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

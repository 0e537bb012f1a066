"""Our FastAGI server: Asterisk's AGI() connects, the flow for the call runs, the results are left on
the channel, the socket is closed. The protocol edge is ours (not panoramisk's FastAGI server, which
spins on a half-closed peer): one `asyncio.Protocol` per connection, no reads in a loop.

- The `agi_*` environment must arrive within `environment_timeout`; a command's answer within its own
  wait (GET DATA's timeout times its digits) plus `answer_timeout`. Otherwise the connection is closed.
- A peer that half-closes (EOF) or resets is closed at once; a line longer than 8 KiB or garbage in
  place of a result closes it too. `max_sessions` bounds the connections held.
- A caller hanging up mid-command: Asterisk answers the command `200 result=-1`, then sends a `HANGUP`
  line; commands after that get `511`. The runner ends on either; the HANGUP line itself needs no answer.
- Service requests (customer lookup, ticket, ...) run as tasks the server owns, with `request_timeout`;
  a failure or timeout answers None and the flow takes its fallback.
- Anything unexpected in a flow is logged and the socket closed: the dialplan goes on with its
  defaults (the default queue), so an error never takes the line down.
- The server shares its event loop with the rest of the call center (AMI, ACD, HTTP, websockets): under
  load it does at most `slice_budget` seconds of FastAGI work per loop iteration and takes the rest up
  in the next one, so that a busy IVR delays nothing else by more than about that.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from time import monotonic, perf_counter
from typing import Any

from ivr.agi import HANGUP_LINE, AgiResult, parse_result
from ivr.effects import Command, Request
from ivr.model import Flow
from ivr.outcome import Outcome
from ivr.registry import FlowRegistry
from ivr.runner import CallInfo, Runner
from ivr.services import IvrServices, answer

log = logging.getLogger(__name__)

MAX_LINE = 8192
READ_SIZE = 64 * 1024
MAX_ENVIRONMENT_LINES = 200
MAX_HELD = 64 * 1024  # input held for a later slice beyond this is taken at once (bounds a flooding peer)
CLOCK_RESOLUTION = 0.001  # the flows' clock (opening hours) is read again once this much time has passed
# an environment line the line-by-line reading would take as it is: `agi_` and a name without blanks, a colon, one
# optional blank, the value
_PLAIN_ENVIRONMENT_LINE = re.compile(r"^(agi_[^:\s]*): ?(.*)$", re.MULTILINE)
_GET_DATA = re.compile(r"^GET DATA \S+ (\d+)(?: (\d+))?")


@dataclass
class FastAgiStats:
    sessions: int = 0          # connections that ran a flow
    active: int = 0
    commands: int = 0          # commands answered
    outcomes: dict[str, int] | None = None
    no_flow: int = 0           # no flow for the number: closed at once (the dialplan's default queue)
    dropped: int = 0           # closed for a timeout, garbage, an overlong line, or a flow error
    refused: int = 0           # over max_sessions
    hangups: int = 0           # callers who hung up during the IVR
    errors: int = 0            # flows that failed (logged)


def _now() -> datetime:
    return datetime.now(UTC)


class FastAgiServer:
    def __init__(self, registry: FlowRegistry, services: IvrServices, *, host: str = "127.0.0.1", port: int = 4573,
                 environment_timeout: float = 5.0, answer_timeout: float = 60.0, request_timeout: float = 3.0,
                 max_sessions: int = 2000, reload_interval: float = 1.0, slice_budget: float = 0.00025,
                 clock: Callable[[], datetime] = _now) -> None:
        self.registry = registry
        self.services = services
        self.host, self.requested_port = host, port
        self.environment_timeout = environment_timeout
        self.answer_timeout = answer_timeout
        self.request_timeout = request_timeout
        self.max_sessions = max_sessions
        self.reload_interval = reload_interval
        self.clock = clock
        self._clock_read = (float("-inf"), _now())  # monotonic() when `clock` was last read, and what it said
        self.stats = FastAgiStats(outcomes={})
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._read_buffer = memoryview(bytearray(READ_SIZE))  # every connection reads into it, one at a time
        self._slices = _Slices(slice_budget)
        self._reload_lock = asyncio.Lock()  # the timer's reload and the admin API's never run together

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(self._server.sockets[0].getsockname()[1])

    async def reload_flows(self, *, recheck: bool = False) -> bool:
        """Take changed flow files into service (off the loop); True if the flows in service changed.
        `recheck`: read the failing files again too (a prompt they lacked was uploaded)."""
        registry = self.registry

        def reload() -> bool:
            if recheck:
                registry.recheck()
            return (registry.changed() or not registry.generation) and registry.reload()

        async with self._reload_lock:
            return await asyncio.to_thread(reload)

    async def start(self) -> None:
        if not self.registry.flows:
            await self.reload_flows()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), self.host, self.requested_port,
                                                reuse_address=True, backlog=1024)
        log.info("IVR: FastAGI on %s:%d, flows: %s", self.host, self.port,
                 ", ".join(sorted(self.registry.flows)) or "none")

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            connection.close("server stopping")
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=self.request_timeout + 1)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def run(self, retry_bind: float = 10.0) -> None:
        """Serve and reload changed flow files until cancelled. A port in use is retried, not fatal: without
        us Asterisk's AGI() fails (AGISTATUS=FAILURE) and callers still wait in the default queue."""
        while True:
            try:
                await self.start()
                break
            except OSError as exc:
                log.error("IVR: cannot listen on %s:%d (%s); retrying in %gs", self.host, self.requested_port, exc,
                          retry_bind)
                await asyncio.sleep(retry_bind)
        try:
            while True:
                await asyncio.sleep(self.reload_interval)
                await self.reload_flows()
        finally:
            await self.stop()

    def now(self) -> datetime:
        """`clock()`, read at most once per CLOCK_RESOLUTION: the flows look at the time of day only (opening
        hours), and a datetime for every command was a twentieth of the server's per-command work."""
        tick = monotonic()
        read_at, value = self._clock_read
        if tick - read_at < CLOCK_RESOLUTION:
            return value
        value = self.clock()
        self._clock_read = (tick, value)
        return value

    def flow_for(self, call: CallInfo) -> Flow | None:
        if call.script == "survey":
            return self.registry.flow(call.args[0] if call.args and call.args[0] else "survey")
        if call.script not in ("", "ivr"):
            return self.registry.flow(call.script)  # agi://host/<flow name> runs that flow
        return self.registry.flow_for(call.dnis)

    def request(self, connection: _Connection, request: Request) -> None:
        async def ask() -> None:
            try:
                reply = await asyncio.wait_for(answer(self.services, request), self.request_timeout)
            except TimeoutError:
                log.warning("IVR: %s timed out after %gs; the flow takes its fallback", type(request).__name__,
                            self.request_timeout)
                reply = None
            except Exception:
                log.exception("IVR: %s failed; the flow takes its fallback", type(request).__name__)
                reply = None
            connection.answered(reply)

        task = asyncio.get_running_loop().create_task(ask())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _Slices:
    """The FastAGI work of one event-loop iteration, bounded: the first connection with input opens a
    slice of `budget` seconds; input that arrives once it is spent is held, and the connections holding
    it are taken up, in arrival order, at the start of the next iteration (with a slice of their own).
    asyncio runs everything that is ready in one go, timers last: without this, 200 busy calls make every
    timer and task of the process wait for all of their commands."""

    def __init__(self, budget: float) -> None:
        self.budget = budget
        self.ends = 0.0  # perf_counter() when the open slice is spent; 0: none open in this iteration
        self.held: deque[_Connection] = deque()

    def has_room(self) -> bool:
        if not self.ends:
            self.ends = perf_counter() + self.budget
            asyncio.get_running_loop().call_soon(self._next)  # runs first thing in the next iteration
            return True
        return perf_counter() < self.ends

    def hold(self, connection: _Connection) -> None:
        self.held.append(connection)

    def _next(self) -> None:
        self.ends = 0.0
        held = self.held
        while held and self.has_room():
            held.popleft().catch_up()


class _Connection(asyncio.BufferedProtocol):
    """One FastAGI connection. The per-command path is kept lean (it is what the benchmark measures):
    the lines of one read are taken in one pass and the commands they cause leave in one write; the
    answer deadline is a single timer per connection that is moved, not a new timer per command. Reads go
    into one buffer the server shares (the loop runs one callback at a time), not into a new 256 KiB
    bytes object per read as asyncio's plain `Protocol` does."""

    def __init__(self, server: FastAgiServer) -> None:
        self.server = server
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.environment: dict[str, str] = {}
        self.runner: Runner | None = None
        self.waiting = False  # a command is out, its answer not yet in
        self.hung_up = False
        self.closed = False
        self.out: list[bytes] = []  # commands to send once the lines at hand are taken
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0  # when `timer` fires
        self.deadline = 0.0
        self.why = ""  # what the deadline waits for ("" while waiting for the answer to `last`)
        self.last = ""
        self.held = False  # input in `buffer` waits for a later slice (see _Slices)

    # ---- asyncio.Protocol -----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        server = self.server
        if len(server._connections) >= server.max_sessions:
            server.stats.refused += 1
            log.warning("IVR: %d FastAGI connections open (ivr.max_sessions); refusing one", server.max_sessions)
            self.closed = True
            transport.abort()
            return
        server._connections.add(self)
        self._arm(server.environment_timeout, "no AGI environment")

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.server._read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        data = self.server._read_buffer[:nbytes].tobytes()
        if self.held:
            self.buffer += data  # after the input already held: the order stays
            if len(self.buffer) > MAX_HELD:
                self.catch_up()
        elif self.server._slices.has_room():
            self.data_received(data)
        elif not self.closed:
            self.buffer += data
            self.held = True
            self.server._slices.hold(self)

    def catch_up(self) -> None:
        """Take the input held for this slice (a no-op if it was taken already)."""
        if self.held:
            self.held = False
            self.data_received(b"")

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        buffer = self.buffer + data if self.buffer else data
        start = 0
        if self.runner is None and buffer.startswith(b"agi_"):
            start = self._environment_block(buffer)
        while start < len(buffer) and not self.closed:  # (a read ends with its last line: one find per line)
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            raw = buffer[start:end]
            start = end + 1
            if self.runner is None:
                self._environment_line(_text(raw))
            else:
                self._line(raw)
        if self.closed:
            return
        self.buffer = buffer[start:] if start else buffer
        if len(self.buffer) > MAX_LINE:
            self.drop("a line longer than 8 KiB")
            return
        self._flush()

    def eof_received(self) -> bool:
        # half-closed by Asterisk (or a broken peer): nothing more will come; close our side too, once
        # what came before is taken
        self.catch_up()
        self.close("peer closed its side")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.catch_up()
        self.close("connection lost")

    # ---- the conversation -----------------------------------------------------------------------------
    def _line(self, raw: bytes) -> None:
        line, result = _reading(raw)
        if line == HANGUP_LINE:
            self.hung_up = True  # the answer to the pending command (-1) came or comes; later ones get 511
            return
        if not self.waiting:
            self.drop(f"unexpected line {line[:80]!r}")
            return
        if result.code < 100:
            self.drop(f"garbage in place of an AGI result: {line[:80]!r}")
            return
        self.waiting = False
        self.server.stats.commands += 1
        self._step(result, first=False)

    def _environment_block(self, buffer: bytes) -> int:
        """The whole environment in one read, as Asterisk sends it (bare LF, an empty line at the end):
        taken in one pass. Returns where the lines after it start (0: not whole, take it line by line)."""
        end = buffer.find(b"\n\n")
        if end < 0 or buffer.find(b"\r", 0, end) >= 0:
            return 0
        environment = self.environment
        text = buffer[:end].decode("utf-8", errors="replace")
        plain = _PLAIN_ENVIRONMENT_LINE.findall(text)
        if len(plain) == text.count("\n") + 1 and len(environment) + len(plain) <= MAX_ENVIRONMENT_LINES:
            environment.update(plain)  # every line `agi_name: value`, as Asterisk writes them: one regex pass
            self._environment_line("")
            return end + 2
        for line in text.split("\n"):
            name, _, value = line.partition(":")
            name = name.strip()
            if len(environment) >= MAX_ENVIRONMENT_LINES or not name.startswith("agi_"):
                self.drop(f"not an AGI environment: {line[:80]!r}")
                return end + 2
            environment[name] = value[1:] if value.startswith(" ") else value
        self._environment_line("")
        return end + 2

    def _environment_line(self, line: str) -> None:
        if line:
            name, _, value = line.partition(":")
            name = name.strip()
            if len(self.environment) >= MAX_ENVIRONMENT_LINES or not name.startswith("agi_"):
                self.drop(f"not an AGI environment: {line[:80]!r}")
                return
            self.environment[name] = value[1:] if value.startswith(" ") else value
            return
        if not self.environment:
            return  # blank lines before the block: ignore
        call = CallInfo.from_environment(self.environment)
        flow = self.server.flow_for(call)
        if flow is None:
            self.server.stats.no_flow += 1
            log.warning("IVR: no flow for %s (script %r, DNIS %r); the dialplan's default applies", call.channel,
                        call.script, call.dnis)
            self.close("no flow")
            return
        self.server.stats.sessions += 1
        self.server.stats.active += 1
        self.runner = Runner(self.server.registry.flows, flow, call)
        self._step(None, first=True)

    def _step(self, answer: Any, *, first: bool) -> None:
        runner = self.runner
        assert runner is not None
        try:
            step = runner.start(self.server.now()) if first else runner.feed(answer, self.server.now())
        except Exception:
            self.server.stats.errors += 1
            log.exception("IVR: flow %r failed on %s; closing (the dialplan's default applies)",
                          runner.flow.name, runner.call.channel)
            self.close("flow error")
            return
        if type(step) is Command:
            self._send(step.text)
        elif isinstance(step, Outcome):
            self._finished(step)
        else:
            assert not isinstance(step, Command)
            self._arm(self.server.request_timeout + self.server.answer_timeout, "request never answered")
            self.server.request(self, step)

    def _send(self, text: str) -> None:
        line, own_wait = _outgoing(text)
        self.waiting = True
        self.out.append(line)
        self.last = text
        self._arm(own_wait + self.server.answer_timeout, "")

    def _flush(self) -> None:
        if self.out and self.transport is not None:
            self.transport.write(self.out[0] if len(self.out) == 1 else b"".join(self.out))
        self.out.clear()

    def answered(self, reply: Any) -> None:
        """A service request's answer (on the loop)."""
        if not self.closed:
            self._step(reply, first=False)
            self._flush()

    def _finished(self, outcome: Outcome) -> None:
        stats = self.server.stats
        assert stats.outcomes is not None
        stats.outcomes[outcome.kind] = stats.outcomes.get(outcome.kind, 0) + 1
        if outcome.kind == "caller-hangup":
            stats.hangups += 1
        if outcome.kind == "error":
            stats.errors += 1
            log.error("IVR: flow %r on %s: %s", outcome.flow, self.runner.call.channel if self.runner else "?",
                      outcome.reason)
        self.close("done")

    # ---- timers and closing ---------------------------------------------------------------------------
    def _arm(self, seconds: float, why: str) -> None:
        """Drop the connection `seconds` from now unless armed again before. One timer per connection:
        a later deadline only moves `deadline` (the timer re-arms itself when it fires early)."""
        self.deadline = self.loop.time() + seconds
        self.why = why
        timer = self.timer
        if timer is not None:
            if self.timer_at <= self.deadline:
                return
            timer.cancel()
        self.timer_at = self.deadline
        self.timer = self.loop.call_at(self.deadline, self._expired)

    def _expired(self) -> None:
        self.timer = None
        self.catch_up()  # an answer held for a later slice came in time
        if self.closed or self.timer is not None:  # (taking it armed the next deadline)
            return
        if self.loop.time() < self.deadline:
            self.timer_at = self.deadline
            self.timer = self.loop.call_at(self.deadline, self._expired)
            return
        self.drop(self.why or f"no answer to {self.last[:40]!r}")

    def drop(self, why: str) -> None:
        if not self.closed:
            self.server.stats.dropped += 1
            peer = self.transport.get_extra_info("peername") if self.transport else None
            log.warning("IVR: closing FastAGI connection from %s: %s", peer, why)
        self.close(why)

    def close(self, why: str) -> None:
        if self.closed:
            return
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.runner is not None:
            self.server.stats.active -= 1
        self.server._connections.discard(self)
        if self.transport is not None:
            self._flush()  # the last commands of a flow that just ended (none today: closing follows an answer)
            self.transport.close()


def _text(raw: bytes) -> str:
    """A line as text, without the CR of a CR LF ending."""
    line = raw.decode("utf-8", errors="replace")
    return line[:-1] if line.endswith("\r") else line


@lru_cache(maxsize=256)
def _reading(raw: bytes) -> tuple[str, AgiResult]:
    """A line from Asterisk as text and as a result. Cached: Asterisk answers with few distinct lines
    (`200 result=0`, `200 result=1`, a prompt's endpos), and both are immutable."""
    line = _text(raw)
    return line, parse_result(line)


@lru_cache(maxsize=4096)
def _outgoing(text: str) -> tuple[bytes, float]:
    """A command as sent, and how long Asterisk may take over it by itself. Cached: the runner sends the
    same few commands call after call."""
    return text.encode("utf-8") + b"\n", _own_wait(text)


def _own_wait(text: str) -> float:
    """How long Asterisk may take by itself: GET DATA waits up to its timeout for each digit."""
    match = _GET_DATA.match(text)
    if match is None:
        return 0.0
    digits = int(match.group(2)) if match.group(2) else 20
    return int(match.group(1)) / 1000 * max(1, min(digits, 64))

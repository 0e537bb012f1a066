"""FastAGI benchmark: our IVR server against a bare panoramisk FastAGI server, in one run, laid out alike.

    python bench/ivr_agi.py [--sessions 200] [--hostile 20] [--seconds 5] [--warmup 1] [--rounds 5] [--profile FILE]

Each server runs alone in a process of its own (the measured event loop) with a probe task that sleeps
1 ms at a time and records how late it wakes: the loop's lag. A second process plays Asterisk over
loopback TCP: `--sessions` concurrent calls, each running a small flow (ANSWER, STREAM FILE, GET DATA,
five SET VARIABLEs; a new call as soon as one ends), answering every command at once, so the server is
driven as hard as it can go. The client checks every call's commands against the expected eight, and
counts commands only in the measured window (after `--warmup`).

Against our server the client also keeps `--hostile` hostile peers connected: half of them send half an
environment and half-close, the others send half an environment and fall silent (half-open); a peer the
server closes is replaced 50 ms later. panoramisk's server reads `while b'\\n\\n' not in buffer` and
never returns on EOF: one half-closed peer blocks its event loop for good. So panoramisk is measured
WITHOUT hostile peers, and the hostile case is shown in a subprocess that is killed after 3 s.

Both servers are measured `--rounds` times, in turn (who goes first alternates): one line per round, then
the figures of the round with the median ratio. Output: name=value lines, the ratio last. Loopback only;
every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FLOW = """\
name: bench
default: true
start: hello
nodes:
  hello: {type: play, prompts: [hello-world], next: ask}
  ask: {type: menu, prompt: beep, options: {"1": sales}, on_failure: sales}
  sales: {type: queue, queue: sales}
"""
ENV = "".join(f"{line}\n" for line in [
    "agi_network: yes", "agi_network_script: ivr", "agi_request: agi://127.0.0.1/ivr", "agi_channel: PJSIP/x-1",
    "agi_language: en", "agi_uniqueid: 1.1", "agi_callerid: 5551234", "agi_dnid: 8005550100",
    "agi_context: cc-inbound", "agi_extension: 8005550100", "agi_priority: 6", "agi_accountcode: ",
]).encode() + b"\n"
COMMANDS = ("ANSWER", 'STREAM FILE hello-world ""', "GET DATA beep 5000 1", "SET VARIABLE CC_QUEUE sales",
            'SET VARIABLE CC_SKILLS ""', "SET VARIABLE CC_PRIORITY 0", "SET VARIABLE CC_IVR_OUTCOME queue",
            "SET VARIABLE CC_IVR_PATH hello,ask,sales")
EXPECTED = [c.encode() for c in COMMANDS]
REPLIES = {b"GET DATA": b"200 result=1\n", b"STREAM FI": b"200 result=0 endpos=8000\n",
           b"SET VARIA": b"200 result=1\n"}
HOSTILE_ENV = b"agi_network: yes\nagi_network_script: ivr\n"
STEP_TIMEOUT = 30.0  # any wait between the processes
ROUND_FIGURES = ("commands_per_s", "server_cpu", "client_cpu", "server_us_per_command", "lag_p99_ms",
                 "wrong_calls")  # on each round's line
SATURATED = 0.9  # a server using less of a core than this waited for something else: the client, or a neighbour


def reply(command: bytes) -> bytes:
    return REPLIES.get(command[:9]) or REPLIES.get(command[:8]) or b"200 result=0\n"


async def panoramisk_route(request: Any) -> None:
    for command in COMMANDS:
        await request.send_command(command)


# ---- the server process ------------------------------------------------------------------------------
class Probe:
    """How late a 1 ms sleep wakes up: the event loop's lag."""

    def __init__(self) -> None:
        self.lags: list[float] = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(0.001)
            self.lags.append(loop.time() - start - 0.001)


async def _serve(kind: str, control: Connection, profile: str | None) -> None:
    loop = asyncio.get_running_loop()
    folder = tempfile.TemporaryDirectory()
    stop: Any
    stats: Any = None
    if kind == "ours":
        from ivr.fastagi import FastAgiServer
        from ivr.registry import FlowRegistry
        from ivr.services import NoServices

        (Path(folder.name) / "bench.yaml").write_text(FLOW)
        ours = FastAgiServer(FlowRegistry(Path(folder.name)), NoServices(), port=0, environment_timeout=2,
                             max_sessions=10_000)
        await ours.start()
        port, stop, stats = ours.port, ours.stop, ours.stats
    else:
        from panoramisk.fast_agi import Application

        app = Application()
        app.add_route("ivr", panoramisk_route)
        theirs = await asyncio.start_server(app.handler, "127.0.0.1", 0, backlog=1024)
        port = theirs.sockets[0].getsockname()[1]

        async def stop() -> None:
            theirs.close()

    probe = Probe()
    probe_task = loop.create_task(probe.run())
    control.send(port)
    await asyncio.to_thread(_expect, control, "start")
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(async_mode="disabled")
        profiler.start()
    probe.lags.clear()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.to_thread(_expect, control, "stop")
    cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    lags = sorted(probe.lags)
    if profiler is not None:
        profiler.stop()
        text = profiler.output_text(unicode=False, color=False, show_all=False)
        await asyncio.to_thread(Path(str(profile)).write_text, text)
    probe_task.cancel()
    result = {"server_cpu": cpu, "lag_p99_ms": _quantile(lags, 0.99) * 1000,
              "lag_p50_ms": _quantile(lags, 0.5) * 1000,
              "lag_max_ms": (lags[-1] if lags else float("nan")) * 1000, "lag_samples": len(lags)}
    if stats is not None:
        result.update(dropped=stats.dropped, errors=stats.errors, sessions=stats.sessions)
    await stop()
    folder.cleanup()
    control.send(result)


def _expect(control: Connection, what: str) -> None:
    if not control.poll(STEP_TIMEOUT + 60):
        raise TimeoutError(f"no {what!r} from the benchmark")
    message = control.recv()
    assert message == what, message


def _quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))] if values else float("nan")


def server_main(kind: str, control: Connection, profile: str | None) -> None:
    # the server logs as in service (a dropped hostile peer is a warning), into a file, not over the figures;
    # asyncio's complaints about panoramisk's handlers cut off at the end are left out
    log_file = Path(tempfile.gettempdir()) / f"bench-ivr-agi-{kind}.log"
    logging.basicConfig(filename=log_file, filemode="w", level=logging.WARNING)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    asyncio.run(_serve(kind, control, profile))


# ---- the client process (plays Asterisk) -------------------------------------------------------------
# Plain non-blocking sockets on epoll, no asyncio: the client should cost as little as Asterisk would,
# so that the figures are the server's.
class Client:
    def __init__(self, port: int, sessions: int, hostile: int) -> None:
        self.address = ("127.0.0.1", port)
        self.selector = selectors.DefaultSelector()
        self.commands = 0
        self.calls = 0
        self.wrong = 0          # calls whose commands were not the expected eight
        self.hostile_opened = 0
        self.reopen: list[tuple[float, bool]] = []  # hostile peers to open again: (when, half-close)
        self.running = True
        for _ in range(sessions):
            self.call()
        for n in range(hostile):
            self.hostile(n % 2 == 0)

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=STEP_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        return sock

    def call(self) -> None:
        sock = self._connect()
        sock.send(ENV)
        self.selector.register(sock, selectors.EVENT_READ, [b"", []])  # buffer, commands seen

    def hostile(self, half_close: bool) -> None:
        sock = self._connect()
        sock.send(HOSTILE_ENV)
        if half_close:
            sock.shutdown(socket.SHUT_WR)  # we will never send more
        self.selector.register(sock, selectors.EVENT_READ, half_close)
        self.hostile_opened += 1

    def run_until(self, deadline: float, control: Connection | None = None) -> None:
        """Serve the sockets until `deadline`, or until `control` has a message."""
        while time.monotonic() < deadline and not (control is not None and control.poll()):
            for key, _ in self.selector.select(0.005):
                self._ready(key)
            now = time.monotonic()
            while self.reopen and self.reopen[0][0] <= now:
                self.hostile(self.reopen.pop(0)[1])

    def _ready(self, key: selectors.SelectorKey) -> None:
        sock: socket.socket = key.fileobj  # type: ignore[assignment]
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except ConnectionError:
            data = b""
        state = key.data
        if not isinstance(state, list):  # a hostile peer: the server closed it; another in 50 ms
            if not data:
                self.selector.unregister(sock)
                sock.close()
                if self.running:
                    self.reopen.append((time.monotonic() + 0.05, state))
            return
        if not data:
            self.selector.unregister(sock)
            sock.close()
            self.calls += 1
            if state[1] != EXPECTED:
                self.wrong += 1
            if self.running:
                self.call()
            return
        lines = (state[0] + data).split(b"\n")
        state[0] = lines.pop()
        state[1].extend(lines)
        self.commands += len(lines)
        sock.send(b"".join(map(reply, lines)))

    def close(self) -> None:
        self.running = False
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self.selector.close()


def client_main(port: int, sessions: int, hostile: int, warmup: float, seconds: float, control: Connection) -> None:
    client = Client(port, sessions, hostile)
    try:
        client.run_until(time.monotonic() + warmup)
        control.send("warm")
        client.run_until(time.monotonic() + STEP_TIMEOUT, control)
        assert control.recv() == "go"
        commands0, calls0, hostile0 = client.commands, client.calls, client.hostile_opened
        t0, cpu0 = time.monotonic(), time.process_time()
        client.run_until(t0 + seconds)
        elapsed = time.monotonic() - t0
        control.send({"commands_per_s": (client.commands - commands0) / elapsed,
                      "client_cpu": (time.process_time() - cpu0) / elapsed, "calls": client.calls - calls0,
                      "wrong_calls": client.wrong, "hostile_connections": client.hostile_opened - hostile0})
    finally:
        client.close()


# ---- the run -----------------------------------------------------------------------------------------
def measure(kind: str, args: argparse.Namespace, hostile: int, profile: str | None = None) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    server_end, server_there = context.Pipe()
    client_end, client_there = context.Pipe()
    server = context.Process(target=server_main, args=(kind, server_there, profile), daemon=True)
    server.start()
    client = None
    try:
        port = _receive(server_end, "the server's port")
        client = context.Process(target=client_main, daemon=True,
                                 args=(port, args.sessions, hostile, args.warmup, args.seconds, client_there))
        client.start()
        assert _receive(client_end, "the client's warm-up", args.warmup) == "warm"
        server_end.send("start")
        client_end.send("go")
        load = _receive(client_end, "the client's figures", args.seconds)
        server_end.send("stop")
        loop_figures = _receive(server_end, "the server's figures")
        # what a command cost the server process, whatever else the machine ran meanwhile
        per_command = loop_figures["server_cpu"] / load["commands_per_s"] * 1e6 if load["commands_per_s"] else 0.0
        return {**load, **loop_figures, "server_us_per_command": per_command}
    finally:
        for process in (client, server):
            if process is not None:
                process.join(10)
                if process.is_alive():
                    process.kill()
                    process.join(5)


def _receive(end: Connection, what: str, extra: float = 0.0) -> Any:
    if not end.poll(STEP_TIMEOUT + extra):
        raise TimeoutError(f"benchmark: no {what} within {STEP_TIMEOUT + extra:g} s")
    return end.recv()


def hostile_probe() -> str:
    """panoramisk with one half-closed peer, in a subprocess bounded by a timeout."""
    code = (
        "import asyncio,sys,time\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})\n"
        "from bench.ivr_agi import panoramisk_route\n"
        "async def main():\n"
        "    from panoramisk.fast_agi import Application\n"
        "    app = Application(); app.add_route('ivr', panoramisk_route)\n"
        "    server = await asyncio.start_server(app.handler, '127.0.0.1', 0)\n"
        "    port = server.sockets[0].getsockname()[1]\n"
        "    r, w = await asyncio.open_connection('127.0.0.1', port)\n"
        "    w.write(b'agi_network: yes\\n'); w.write_eof()\n"
        "    t = time.perf_counter(); await asyncio.sleep(0.01)\n"
        "    print('loop alive after', time.perf_counter() - t)\n"
        "asyncio.run(main())\n"
    )
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=3)
    except subprocess.TimeoutExpired:
        return "blocked (a 10 ms sleep had not returned after 3 s; subprocess killed)"
    return (done.stdout.strip() or done.stderr.strip()[-200:]).replace("\n", " ")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--hostile", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--profile", help="write a pyinstrument profile of our server's window to this file")
    parser.add_argument("--only-ours", action="store_true", help="skip panoramisk (for profiling)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="measure both servers this many times, in turn; the round with the median ratio is shown")
    args = parser.parse_args()
    print(f"layout=server process + client process over loopback TCP; sessions={args.sessions} "
          f"seconds={args.seconds:g} warmup={args.warmup:g} rounds={args.rounds}")
    if args.only_ours:
        for n in range(args.rounds):
            _show("ours", measure("ours", args, args.hostile, args.profile if n == 0 else None))
        print(f"ours_hostile_peers={args.hostile}")
        return
    # The machine is shared (2 cores, other people's builds and benchmarks, and whatever shares the host: the same
    # server's CPU per command went from 26 to 62 us between two windows of one run). A neighbour busy during one
    # server's window and not the other's moved a single ratio from 1.2 to 2.2 with the same code. So the servers
    # are measured in turn, round after round (who goes first alternates), and the median round is shown.
    rounds = []
    for n in range(args.rounds):
        order = ("ours", "panoramisk") if n % 2 == 0 else ("panoramisk", "ours")
        figures = {kind: measure(kind, args, args.hostile if kind == "ours" else 0,
                                 args.profile if kind == "ours" and n == 0 else None) for kind in order}
        ours, theirs = figures["ours"], figures["panoramisk"]
        ratio = ours["commands_per_s"] / theirs["commands_per_s"]
        rounds.append((ratio, ours, theirs))
        shown = " ".join(f"{kind}_{name}={_fmt(figures[kind][name])}" for name in ROUND_FIGURES for kind in order)
        print(f"round={n + 1} {shown} ratio={ratio:.2f}")
    ratio, ours, theirs = sorted(rounds, key=lambda r: r[0])[len(rounds) // 2]
    print(f"median_round={[r[0] for r in rounds].index(ratio) + 1} (its figures follow)")
    _show("ours", ours)
    print(f"ours_hostile_peers={args.hostile}")
    _show("panoramisk", theirs)
    print("panoramisk_hostile_peers=0 (one half-closed peer stops it, see below)")
    print(f"panoramisk_with_one_half_closed_peer={hostile_probe()}")
    print(f"lag_p99_target_met={ours['lag_p99_ms'] < 5.0} (target < 5 ms)")
    # commands/s is the server's only while each process has a core of its own; with a neighbour on one core the
    # server shares the other with the client, which costs the same per command against either server and so
    # pulls the ratio toward 1: said here, with the servers' own cost per command beside it
    saturated = min(ours["server_cpu"], theirs["server_cpu"]) >= SATURATED
    print(f"servers_saturated={saturated} (each server used >= {SATURATED:g} of a core in this round; if not, "
          f"commands/s measured the machine's other load too)")
    print(f"server_cpu_ratio={theirs['server_us_per_command'] / ours['server_us_per_command']:.2f} "
          f"(panoramisk / ours server CPU per command)")
    print(f"ratio={ratio:.2f} (ours / panoramisk commands/s, target >= 1.5)")


def _show(kind: str, figures: dict[str, Any]) -> None:
    for name, value in figures.items():
        print(f"{kind}_{name}={_fmt(value)}")


def _fmt(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    main()

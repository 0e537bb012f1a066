"""FastAGI benchmark: our IVR server against a bare panoramisk FastAGI server, in one run, laid out alike.

    python bench/ivr_agi.py [--sessions 200] [--hostile 20] [--seconds 5] [--turn 0.5] [--warmup 1] [--profile FILE]

Each server runs in a process of its own (the measured event loop) with a probe task that sleeps 1 ms at
a time and records how late it wakes: the loop's lag. Another process per server plays Asterisk over
loopback TCP: `--sessions` concurrent calls, each running a small flow (ANSWER, STREAM FILE, GET DATA,
five SET VARIABLEs; a new call as soon as one ends), answering every command at once, so the server is
driven as hard as it can go. The client checks every call's commands against the expected eight.

Both servers and their clients run at once, but only one client works at a time: after `--warmup`, the
load goes to our server and panoramisk's in turns of `--turn` seconds (A B B A A B ...) until each had
`--seconds` of it. Commands, the server's CPU and its lag are counted in its own turns only; the paused
pair waits, so each working server and its client have the 2 cores as in a run alone. Turns side by side
in time keep a neighbour's load (other builds and benchmarks, the host) from falling on one server only.

Against our server the client also keeps `--hostile` hostile peers connected: half of them send half an
environment and half-close, the others send half an environment and fall silent (half-open); a peer the
server closes is replaced 50 ms later. panoramisk's server reads `while b'\\n\\n' not in buffer` and
never returns on EOF: one half-closed peer blocks its event loop for good. So panoramisk is measured
WITHOUT hostile peers, and the hostile case is shown in a subprocess that is killed after 3 s.

Output: name=value lines, the ratio last. Loopback only; every wait is bounded.
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
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(async_mode="disabled")
    cpu = wall = cpu0 = wall0 = 0.0
    lags: list[float] = []
    # the server is measured only during its turns (the client loads it), never while it waits for the next one
    while (step := await asyncio.to_thread(_next_step, control)) != "done":
        if step == "start":
            if profiler is not None and not profiler.is_running:
                profiler.start()
            probe.lags.clear()
            cpu0, wall0 = time.process_time(), time.perf_counter()
        else:
            assert step == "stop", step
            cpu += time.process_time() - cpu0
            wall += time.perf_counter() - wall0
            lags.extend(probe.lags)
        control.send(step)  # the turn's window is open (or closed)
    cpu /= wall
    lags.sort()
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


def _next_step(control: Connection) -> Any:
    if not control.poll(STEP_TIMEOUT + 60):
        raise TimeoutError("no word from the benchmark")
    return control.recv()


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


def client_main(port: int, sessions: int, hostile: int, warmup: float, control: Connection) -> None:
    """Warm up, then serve the calls turn by turn ("run" ... "pause"); between turns nothing is answered and
    the server waits. The figures count the turns only."""
    client = Client(port, sessions, hostile)
    commands = calls = hostile_opened = 0
    elapsed = cpu = 0.0
    try:
        client.run_until(time.monotonic() + warmup)
        control.send("warm")
        while (step := _next_step(control)) == "run":
            commands0, calls0, hostile0 = client.commands, client.calls, client.hostile_opened
            t0, cpu0 = time.monotonic(), time.process_time()
            client.run_until(t0 + STEP_TIMEOUT, control)
            elapsed += time.monotonic() - t0
            cpu += time.process_time() - cpu0
            commands += client.commands - commands0
            calls += client.calls - calls0
            hostile_opened += client.hostile_opened - hostile0
            assert control.recv() == "pause"
            control.send("paused")
        assert step == "done", step
        control.send({"commands_per_s": commands / elapsed, "client_cpu": cpu / elapsed, "calls": calls,
                      "wrong_calls": client.wrong, "hostile_connections": hostile_opened})
    finally:
        client.close()


# ---- the run -----------------------------------------------------------------------------------------
def measure(kinds: tuple[str, ...], args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Every server in `kinds` with its own client, all started at once; then the load goes to one server at a
    time, in turns of `args.turn` seconds (A B B A A B ...), until each had `args.seconds` of it. The machine is
    shared (2 cores; other people's builds and benchmarks, and whatever shares the host: one server's CPU per
    command went from 26 to 62 us between two 3 s windows of one run), so the servers are measured side by
    side in time, not one after the other: whatever slows the machine falls on both."""
    context = multiprocessing.get_context("spawn")
    processes: list[multiprocessing.process.BaseProcess] = []
    servers: dict[str, Connection] = {}
    clients: dict[str, Connection] = {}
    try:
        for kind in kinds:
            server_end, server_there = context.Pipe()
            client_end, client_there = context.Pipe()
            profile = args.profile if kind == "ours" else None
            processes.append(context.Process(target=server_main, args=(kind, server_there, profile), daemon=True))
            processes[-1].start()
            port = _receive(server_end, "the server's port")
            hostile = args.hostile if kind == "ours" else 0
            processes.append(context.Process(target=client_main, daemon=True,
                                             args=(port, args.sessions, hostile, args.warmup, client_there)))
            processes[-1].start()
            assert _receive(client_end, "the client's warm-up", args.warmup) == "warm"
            servers[kind], clients[kind] = server_end, client_end
        for turn in range(max(1, round(args.seconds / args.turn))):
            for kind in kinds if turn % 2 == 0 else kinds[::-1]:
                servers[kind].send("start")
                assert _receive(servers[kind], "the server's window") == "start"
                clients[kind].send("run")
                time.sleep(args.turn)
                clients[kind].send("pause")
                assert _receive(clients[kind], "the client's pause") == "paused"
                servers[kind].send("stop")
                assert _receive(servers[kind], "the server's window") == "stop"
        figures = {}
        for kind in kinds:
            clients[kind].send("done")
            servers[kind].send("done")
            load = _receive(clients[kind], "the client's figures")
            loop_figures = _receive(servers[kind], "the server's figures")
            # what a command cost the server process, whatever else the machine ran meanwhile
            per_command = loop_figures["server_cpu"] / load["commands_per_s"] * 1e6 if load["commands_per_s"] else 0.0
            figures[kind] = {**load, **loop_figures, "server_us_per_command": per_command}
        return figures
    finally:
        for process in processes:
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
    parser.add_argument("--profile", help="write a pyinstrument profile of our server's turns to this file")
    parser.add_argument("--only-ours", action="store_true", help="skip panoramisk (for profiling)")
    parser.add_argument("--turn", type=float, default=0.5, help="seconds of load for one server at a time")
    args = parser.parse_args()
    print(f"layout=a server process + a client process per server over loopback TCP, the load to one server at "
          f"a time; sessions={args.sessions} seconds={args.seconds:g} turn={args.turn:g} warmup={args.warmup:g}")
    figures = measure(("ours",) if args.only_ours else ("ours", "panoramisk"), args)
    ours = figures["ours"]
    _show("ours", ours)
    print(f"ours_hostile_peers={args.hostile}")
    if args.only_ours:
        return
    theirs = figures["panoramisk"]
    _show("panoramisk", theirs)
    print("panoramisk_hostile_peers=0 (one half-closed peer stops it, see below)")
    print(f"panoramisk_with_one_half_closed_peer={hostile_probe()}")
    print(f"lag_p99_target_met={ours['lag_p99_ms'] < 5.0} (target < 5 ms)")
    # commands/s is the server's only while each process has a core of its own; with a neighbour on one core the
    # server shares the other with the client, which costs the same per command against either server and so
    # pulls the ratio toward 1: said here, with the servers' own cost per command beside it
    saturated = min(ours["server_cpu"], theirs["server_cpu"]) >= SATURATED
    print(f"servers_saturated={saturated} (each server used >= {SATURATED:g} of a core in its turns; if not, "
          f"commands/s measured the machine's other load too)")
    print(f"server_cpu_ratio={theirs['server_us_per_command'] / ours['server_us_per_command']:.2f} "
          f"(panoramisk / ours server CPU per command)")
    print(f"ratio={ours['commands_per_s'] / theirs['commands_per_s']:.2f} (ours / panoramisk commands/s, "
          f"target >= 1.5)")


def _show(kind: str, figures: dict[str, Any]) -> None:
    for name, value in figures.items():
        print(f"{kind}_{name}={_fmt(value)}")


def _fmt(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    main()

"""FastAGI benchmark: our IVR server against a bare panoramisk FastAGI server, in one run.

    python bench/ivr_agi.py [--sessions 200] [--hostile 20] [--seconds 5]

A client in the same process plays Asterisk for `--sessions` concurrent calls, each running a small flow
(ANSWER, STREAM FILE, GET DATA, five SET VARIABLEs; a new call as soon as one ends), while `--hostile`
peers connect, send half an environment and half-close (or stay silent). Reported: commands/s and the
event loop's lag p99 (a 1 ms ticker). panoramisk's server reads `while b'\\n\\n' not in buffer` and never
returns on EOF: one half-closed peer blocks its event loop for good, so it is measured without hostile
peers here, and the hostile case is shown in a subprocess that is killed after a few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ivr.fastagi import FastAgiServer
from ivr.registry import FlowRegistry
from ivr.services import NoServices

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


def reply(command: bytes) -> bytes:
    if command.startswith(b"GET DATA"):
        return b"200 result=1\n"
    if command.startswith(b"STREAM FILE"):
        return b"200 result=0 endpos=8000\n"
    if command.startswith(b"SET VARIABLE"):
        return b"200 result=1\n"
    return b"200 result=0\n"


async def panoramisk_route(request: object) -> None:
    for command in ("ANSWER", 'STREAM FILE hello-world ""', "GET DATA beep 5000 1", "SET VARIABLE CC_QUEUE sales",
                    "SET VARIABLE CC_SKILLS \"\"", "SET VARIABLE CC_PRIORITY 0",
                    "SET VARIABLE CC_IVR_OUTCOME queue", "SET VARIABLE CC_IVR_PATH hello,ask,sales"):
        await request.send_command(command)  # type: ignore[attr-defined]


class Load:
    def __init__(self) -> None:
        self.commands = 0
        self.sessions = 0
        self.lags: list[float] = []
        self.running = True

    async def caller(self, port: int) -> None:
        while self.running:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.01)
                continue
            writer.write(ENV)
            while True:
                line = await reader.readline()
                if not line:
                    break
                self.commands += 1
                writer.write(reply(line))
            writer.close()
            self.sessions += 1

    async def ticker(self) -> None:
        loop = asyncio.get_running_loop()
        while self.running:
            start = loop.time()
            await asyncio.sleep(0.001)
            self.lags.append(loop.time() - start - 0.001)


async def hostile(port: int, n: int, keep: list[asyncio.StreamWriter]) -> None:
    for i in range(n):
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"agi_network: yes\nagi_network_script: ivr\n")
        if i % 2 == 0:
            writer.write_eof()  # half-open: we will never send more, nor read
        keep.append(writer)


async def measure(port: int, sessions: int, hostiles: int, seconds: float) -> dict[str, float]:
    load = Load()
    keep: list[asyncio.StreamWriter] = []
    await hostile(port, hostiles, keep)
    tasks = [asyncio.create_task(load.caller(port)) for _ in range(sessions)]
    ticker = asyncio.create_task(load.ticker())
    await asyncio.sleep(0.5)  # warm up
    commands0, t0 = load.commands, time.perf_counter()
    load.lags.clear()
    await asyncio.sleep(seconds)
    commands, elapsed = load.commands - commands0, time.perf_counter() - t0
    lags = sorted(load.lags)
    load.running = False
    for task in [*tasks, ticker]:
        task.cancel()
    await asyncio.gather(*tasks, ticker, return_exceptions=True)
    for writer in keep:
        writer.close()
    p99 = lags[int(len(lags) * 0.99)] if lags else float("nan")
    return {"commands_per_s": commands / elapsed, "lag_p99_ms": p99 * 1000,
            "lag_median_ms": statistics.median(lags) * 1000 if lags else float("nan")}


async def ours(args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "bench.yaml").write_text(FLOW)
        server = FastAgiServer(FlowRegistry(Path(folder)), NoServices(), port=0, environment_timeout=30,
                               max_sessions=10_000)
        await server.start()
        try:
            return await measure(server.port, args.sessions, args.hostile, args.seconds)
        finally:
            await server.stop()


async def theirs(args: argparse.Namespace, hostiles: int) -> dict[str, float]:
    from panoramisk.fast_agi import Application

    app = Application()
    app.add_route("ivr", panoramisk_route)
    server = await asyncio.start_server(app.handler, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    try:
        return await measure(port, args.sessions, hostiles, args.seconds)
    finally:
        server.close()


def hostile_probe() -> str:
    """panoramisk with one half-closed peer, in a subprocess bounded by a timeout."""
    code = (
        "import asyncio,sys,time\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})\n"
        "from bench.ivr_agi import *\n"
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
        return "event loop blocked: a 10 ms sleep had not returned after 3 s (subprocess killed)"
    return done.stdout.strip() or done.stderr.strip()[-200:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--hostile", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    ours_result = asyncio.run(ours(args))
    theirs_result = asyncio.run(theirs(args, 0))
    ratio = ours_result["commands_per_s"] / theirs_result["commands_per_s"]
    print(f"{args.sessions} concurrent FastAGI sessions, {args.seconds:g} s each, client in the same process")
    print(f"  ivr.fastagi  (+{args.hostile} hostile peers): {ours_result['commands_per_s']:9.0f} commands/s, "
          f"loop lag p99 {ours_result['lag_p99_ms']:.2f} ms (median {ours_result['lag_median_ms']:.2f} ms)")
    print(f"  panoramisk   (no hostile peers):   {theirs_result['commands_per_s']:9.0f} commands/s, "
          f"loop lag p99 {theirs_result['lag_p99_ms']:.2f} ms (median {theirs_result['lag_median_ms']:.2f} ms)")
    print(f"  ratio {ratio:.2f}x (target >= 1.5x); lag target p99 < 5 ms: "
          f"{'met' if ours_result['lag_p99_ms'] < 5 else 'NOT met'}")
    print(f"  panoramisk with one half-closed peer: {hostile_probe()}")


if __name__ == "__main__":
    main()

"""Screen pop latency through the websocket hub, under load, against a raw websocket send of the same frame.

    python bench/screen_pop.py [--agents 500] [--background 5000] [--pops 50] [--seconds 10]

The server side is the real one (`create_app` of a `CallCenter`: bus, desktop feed, hub, `/ws` on uvicorn,
sign-in sessions, customers in SQLite), without a PBX: the tracker's events are published on the bus as
the tracker would. `--agents` websocket clients, each signed in as its own agent, run in a subprocess
(`websockets`). Meanwhile `--background` events per second go in (half ACD state changes, half hold /
resume of calls in progress), each one a frame to one agent, and `--pops` calls per second ring an
agent (`CallStarted` half a second before, so the customer lookup has answered, as on a real call that
went through the IVR). Measured: from `bus.publish(CallOffered)` to the `screen_pop` frame received by
the agent's client; and, in the same run right after each ring, a send of the same frame on a plain
`websockets` server to one more client in the subprocess. Both clocks are CLOCK_MONOTONIC (one machine).

Prints name=value lines, the ratio last. Targets: hub p99 < 10 ms, hub p99 / raw p99 <= 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402
import websockets  # noqa: E402
from argon2 import PasswordHasher  # noqa: E402
from support import free_port, percentile  # noqa: E402

from acd.events import AgentStateChanged  # noqa: E402
from acd.model import AgentState  # noqa: E402
from callcenter.api import create_app  # noqa: E402
from callcenter.app import CallCenter, uvicorn_config  # noqa: E402
from callcenter.auth.service import Role  # noqa: E402
from callcenter.customers.schemas import CustomerIn  # noqa: E402
from callcenter.desktop.calls import DeskCall  # noqa: E402
from callcenter.migrations import migrate  # noqa: E402
from callcenter.settings import Settings  # noqa: E402
from callcenter.ws.feed import Identified, screen_pop  # noqa: E402
from callcenter.ws.hub import encode  # noqa: E402
from cti.events import (  # noqa: E402
    CallAbandoned,
    CallConnected,
    CallHeld,
    CallOffered,
    CallResumed,
    CallStarted,
)
from cti.records import Direction  # noqa: E402

PASSWORD = "bench-password-1"
TICK = 0.01  # s: background events go in batches of this period


# ---- the client subprocess ------------------------------------------------------------------------------
async def clients(port: int, raw_port: int, tokens: list[str]) -> None:
    received: dict[str, int] = {}
    counts = {"frames": 0}

    async def agent(token: str) -> None:
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws", additional_headers={"Cookie": f"cc_session={token}"},
                                      max_queue=None) as ws:
            await ws.send('{"type":"hello"}')
            async for text in ws:
                counts["frames"] += 1
                if '"screen_pop"' in text:
                    at = time.monotonic_ns()
                    received[json.loads(text)["call_id"]] = at

    async def raw() -> None:
        async with websockets.connect(f"ws://127.0.0.1:{raw_port}/", max_queue=None) as ws:
            async for text in ws:
                if '"screen_pop"' in text:
                    at = time.monotonic_ns()
                    received[json.loads(text)["call_id"]] = at

    tasks = [asyncio.ensure_future(agent(t)) for t in tokens] + [asyncio.ensure_future(raw())]
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print("ready", flush=True)
    await reader.readline()  # "stop"
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps({"received": received, "frames": counts["frames"]}), flush=True)


# ---- the server side --------------------------------------------------------------------------------
async def prepare(tmp: Path, agents: int) -> tuple[CallCenter, list[str], list[str]]:
    url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    settings = Settings.model_validate({"database": {"url": url}, "records": {"queue_log_path": str(tmp / "ql")},
                                        "http": {"port": free_port()}})
    await migrate(url)
    center = CallCenter(settings, password_hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    tokens, endpoints = [], []
    for n in range(agents):
        endpoint = f"agent{5000 + n}"
        await center.auth.create_user(f"bench{n}", f"Bench {n}", Role.AGENT, PASSWORD, endpoint=endpoint)
        session = await center.auth.login(f"bench{n}", PASSWORD, ip="127.0.0.1", user_agent="bench")
        tokens.append(session.token)
        endpoints.append(endpoint)
    for n in range(agents // 2):  # half the callers are known customers
        await center.customers.create(CustomerIn.model_validate({
            "reference": f"B{n}", "name": f"Customer {n}", "vip": n % 10 == 0,
            "phones": [{"number": f"+1555{n:07d}"}]}))
    return center, tokens, endpoints


async def run(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        center, tokens, endpoints = await prepare(tmp, args.agents)
        (tmp / "tokens.json").write_text(json.dumps(tokens))
        server = uvicorn.Server(uvicorn_config(create_app(center), "127.0.0.1", center.settings.http.port))
        raw_clients: list[Any] = []
        raw_ready = asyncio.Event()

        async def raw_handler(ws: Any) -> None:
            raw_clients.append(ws)
            raw_ready.set()
            await ws.wait_closed()

        raw_server = await websockets.serve(raw_handler, "127.0.0.1", 0)
        raw_port = next(iter(raw_server.sockets)).getsockname()[1]
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(server.serve()), loop.create_task(center.bus.run()),
                 loop.create_task(center.acd_bus.run()), loop.create_task(center.desktop.run())]
        await _until(lambda: server.started, 30)
        client = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--client", str(center.settings.http.port), str(raw_port),
            str(tmp / "tokens.json"), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert client.stdout is not None and client.stdin is not None
        line = await asyncio.wait_for(client.stdout.readline(), 120)
        assert line.strip() == b"ready", line
        await asyncio.wait_for(raw_ready.wait(), 10)
        await _until(lambda: center.desktop.hub.stats.connections == args.agents, 60)
        sent, raw_sent, background = await load(center, endpoints, raw_clients[0], args)
        client.stdin.write(b"stop\n")
        await client.stdin.drain()
        result = json.loads(await asyncio.wait_for(client.stdout.readline(), 60))
        await client.wait()
        server.should_exit = True
        await asyncio.wait_for(tasks[0], 30)
        for task in tasks[1:]:
            task.cancel()
        await asyncio.gather(*tasks[1:], return_exceptions=True)
        raw_server.close()
        await center.engine.dispose()
    report(args, sent, raw_sent, background, result, center)


async def _until(condition: Any, within: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.01)


async def load(center: CallCenter, endpoints: list[str], raw: Any,
               args: argparse.Namespace) -> tuple[dict[str, int], dict[str, int], int]:
    rng = random.Random(7)
    bus, acd_bus, now = center.bus, center.acd_bus, time.time
    # every agent talks in a background call: hold / resume of it are frames to that agent
    for n, agent in enumerate(endpoints):
        call_id = f"bg-{n}"
        bus.publish(CallStarted(now(), call_id, Direction.INBOUND, f"+1666{n:07d}", None, "8005550100",
                                f"PJSIP/cc-trunk-bg{n}"))
        bus.publish(CallConnected(now(), call_id, agent, f"bg-leg-{n}", "support", 3.0))
    # the customer lookups of those calls (all started at once) are over before the measured load begins
    await bus.drain()
    await _until(lambda: center.desktop.feed.lookups_pending == 0, 60)
    held: set[int] = set()
    states = [AgentState.NOT_READY, AgentState.AVAILABLE]
    sent: dict[str, int] = {}
    raw_sent: dict[str, int] = {}
    frame_call = DeskCall("x", "+15550000001", None, "8005550100", "PJSIP/cc-trunk-x", now(), "inbound",
                          queue="support")
    found = Identified(await center.customers.customer_summary(1), "phone")
    loop = asyncio.get_running_loop()
    start = loop.time()
    per_tick = args.background * TICK
    carry, pops, background = 0.0, 0, 0
    lead = max(1, int(args.pops * 0.5))  # calls start half a second before they ring

    def start_call(n: int) -> None:
        caller = f"+1555{rng.randrange(len(endpoints) * 2):07d}"  # half of them known customers
        bus.publish(CallStarted(now(), f"pop-{n}", Direction.INBOUND, caller, None, "8005550100",
                                f"PJSIP/cc-trunk-{n}"))

    for n in range(lead):
        start_call(n)
    next_pop = start + 0.5
    while (elapsed := loop.time() - start) < args.seconds + 0.5:
        carry += per_tick
        for _ in range(int(carry)):
            agent_n = rng.randrange(len(endpoints))
            if background % 2:
                acd_bus.publish(AgentStateChanged(now(), endpoints[agent_n], states[background % 4 // 2],
                                                  states[1 - background % 4 // 2], now() - 5, reason="break"))
            elif agent_n in held:
                held.discard(agent_n)
                bus.publish(CallResumed(now(), f"bg-{agent_n}", 2.0))
            else:
                held.add(agent_n)
                bus.publish(CallHeld(now(), f"bg-{agent_n}"))
            background += 1
        carry -= int(carry)
        while loop.time() >= next_pop and elapsed < args.seconds + 0.5:
            agent = endpoints[pops % len(endpoints)]
            call_id = f"pop-{pops}"
            measured = elapsed > 1.0  # the first half second warms up
            t0 = time.monotonic_ns()
            bus.publish(CallOffered(now(), call_id, agent, f"leg-{pops}", "support"))
            if measured:
                sent[call_id] = t0
            # the same frame, raw: a plain websockets server, one send, no hub
            frame = encode({"seq": pops + 1, "type": "screen_pop",
                            **screen_pop(frame_call, agent, found, now()), "call_id": f"raw-{pops}"})
            r0 = time.monotonic_ns()
            await raw.send(frame)
            if measured:
                raw_sent[f"raw-{pops}"] = r0
            start_call(pops + lead)
            if pops >= lead:
                bus.publish(CallAbandoned(now(), f"pop-{pops - lead}", "support", 1.0))
            pops += 1
            next_pop += 1 / args.pops
        await asyncio.sleep(max(0.0, start + (elapsed // TICK + 1) * TICK - loop.time()))
    await asyncio.sleep(1.0)  # the last frames arrive
    return sent, raw_sent, background


def report(args: argparse.Namespace, sent: dict[str, int], raw_sent: dict[str, int], background: int,
           result: dict[str, Any], center: CallCenter) -> None:
    received: dict[str, int] = result["received"]
    hub = [(received[c] - t) / 1e6 for c, t in sent.items() if c in received]
    raw = [(received[c] - t) / 1e6 for c, t in raw_sent.items() if c in received]
    stats = center.desktop.hub.stats
    print(f"agents={args.agents}")
    print(f"seconds={args.seconds}")
    print(f"background_events={background}")
    print(f"background_events_per_s={background / (args.seconds + 0.5):.0f}")
    print(f"frames_received={result['frames']}")
    print(f"pops_measured={len(sent)}")
    print(f"pops_lost={len(sent) - len(hub)}")
    print(f"dropped_slow_clients={stats.dropped_slow}")
    print(f"bus_dropped={sum(s.dropped for s in center.bus.stats) + sum(s.dropped for s in center.acd_bus.stats)}")
    print(f"hub_p50_ms={percentile(hub, 0.50):.2f}")
    print(f"hub_p99_ms={percentile(hub, 0.99):.2f}")
    print(f"hub_max_ms={max(hub):.2f}")
    print(f"raw_p50_ms={percentile(raw, 0.50):.2f}")
    print(f"raw_p99_ms={percentile(raw, 0.99):.2f}")
    print(f"raw_max_ms={max(raw):.2f}")
    print(f"ratio_hub_over_raw_p99={percentile(hub, 0.99) / percentile(raw, 0.99):.2f}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        asyncio.run(clients(int(sys.argv[2]), int(sys.argv[3]), json.loads(Path(sys.argv[4]).read_text())))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--background", type=int, default=5000, help="events per second")
    parser.add_argument("--pops", type=int, default=50, help="rings per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()

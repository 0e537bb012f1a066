"""Capacity of the whole call center on this machine: the server with the simulated PBX, 1,000 agents.

    python bench/capacity.py [--agents 1000] [--rates 10,25,50,75] [--step-seconds 30] [--talk 15]

Everything is the production path, in real time (speed 1): bot callers arrive on the simulated trunk
(Poisson) and go through the shipped dialplan and our IVR over FastAGI (they press 2: support); the
tracker reads the AMI events over TCP; the ACD redirects each caller to a bot agent, whose phone rings,
answers after 0.5 s and talks `--talk` seconds. Every agent has a signed-in websocket client (in a
subprocess) that receives its screen pops. The simulated PBX runs in a process of its own, as Asterisk
would (the server is configured for a real Asterisk: `pbx.mode asterisk`, AMI on the PBX's port);
`--pbx in-process` runs it inside the server instead, as `callcenter demo` does. The arrival rate is
stepped up; per step it prints:

- offered calls/s and answered calls/s;
- screen-pop latency p50 / p99: from the simulated Asterisk emitting the agent leg's ring (Newstate
  Ringing) to the agent's websocket client receiving the `screen_pop` frame (CLOCK_MONOTONIC, one
  machine, three processes);
- the server process's CPU (share of one core) and RSS, and the PBX process's CPU;
- lost calls (offered in the step and neither finished nor in progress at its end) and stuck calls
  (still in progress once the traffic has stopped and every call should have ended).

Target (issue): >= 50 calls/s sustained with screen-pop p99 < 100 ms and no lost or stuck call. A step
meets it when it offered at least 95 % of its rate (the arrivals are Poisson; a process that cannot keep
up offers fewer), the pop p99 is under 100 ms and no call was lost or stuck.
Prints name=value lines; the last line per step is its pass/fail against the target.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import os
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402
from argon2 import PasswordHasher  # noqa: E402
from pydantic import SecretStr  # noqa: E402
from support import free_port, percentile  # noqa: E402

from callcenter.app import CallCenter  # noqa: E402
from callcenter.asterisk.render import load_dialplan  # noqa: E402
from callcenter.auth.service import Role  # noqa: E402
from callcenter.demo import demo_settings  # noqa: E402
from callcenter.migrations import migrate  # noqa: E402
from callcenter.settings import PbxSettings, Settings  # noqa: E402
from callcenter.simulator.people import CallerBehaviour, Span  # noqa: E402
from callcenter.simulator.scenario import load_scenario  # noqa: E402
from callcenter.simulator.service import Simulator  # noqa: E402

PASSWORD = "bench-password-1"
FIRST_AGENT = 2001
DNIS, DIGITS = "8005550100", "2"  # the main menu's support key


# ---- the websocket clients (subprocess) -------------------------------------------------------------------
async def clients(port: int, tokens: dict[str, str]) -> None:
    """One signed-in websocket per agent; records when each screen pop arrives, per (call, agent)."""
    received: dict[str, int] = {}

    async def agent(endpoint: str, token: str) -> None:
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws", max_queue=None,
                                      additional_headers={"Cookie": f"cc_session={token}"}) as ws:
            await ws.send('{"type":"hello"}')
            async for text in ws:
                if '"screen_pop"' in text:
                    at = time.monotonic_ns()
                    received[f"{json.loads(text)['call_id']}|{endpoint}"] = at

    tasks = [asyncio.ensure_future(agent(e, t)) for e, t in tokens.items()]
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print("ready", flush=True)
    while (line := await reader.readline()) not in (b"", b"stop\n"):
        if line == b"dump\n":  # the pops so far, then go on
            print(json.dumps(received), flush=True)
            received = {}
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# ---- the server process ---------------------------------------------------------------------------------
def settings_for(tmp: Path, agents: int) -> Settings:
    queues = "queues:\n  support: {skills: {support: 1}, wrap_up: 0, ring_timeout: 20}\n"
    lines = [f"  agent{FIRST_AGENT + n}: {{skills: {{support: 50}}, queues: [support], login: auto}}"
             for n in range(agents)]
    (tmp / "acd.yaml").write_text("default_queue: support\n" + queues + "agents:\n" + "\n".join(lines) + "\n")
    (tmp / "simulator.yaml").write_text(
        "seed: 11\ntrunk_context: cc-inbound\nagents:\n  context: agents\n"
        f"  bots: {{count: {agents}, first_number: {FIRST_AGENT}, answer_after: 0.5, miss_rate: 0, talk: 3600}}\n"
        "traffic: []\n")
    base = Settings.model_validate({
        "database": {"url": f"sqlite+aiosqlite:///{tmp / 'capacity.db'}"},
        "records": {"queue_log_path": str(tmp / "queue_log")},
        "http": {"port": free_port()}, "log": {"level": "WARNING"},
        "ivr": {"port": free_port()},
        "simulator": {"scenario": str(tmp / "simulator.yaml"), "recordings_dir": str(tmp / "recordings")},
        "acd": {"config": str(tmp / "acd.yaml")},
        "asterisk": {"record_calls": False},
    })
    os.environ["CALLCENTER__DATABASE__URL"] = base.database.url  # demo_settings keeps this database
    return demo_settings(base, speed=1.0)


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class PbxView:
    """What the bench reads of the simulated PBX (all since it started)."""

    rings: dict[str, int] = field(default_factory=dict)  # "<linkedid>|<agent>" -> monotonic ns of the ring
    offered: dict[str, float] = field(default_factory=dict)  # caller uniqueid -> monotonic s of its arrival
    answers: int = 0  # calls the bot agents answered
    cpu: float = 0.0  # the PBX process's CPU seconds (0 when it runs inside the server)


class PbxTap:
    """Watches a simulator's events and drives its callers (inside whichever process runs it)."""

    def __init__(self, simulator: Simulator) -> None:
        assert simulator.pbx is not None and simulator.people is not None
        self.people = simulator.people
        self.view = PbxView()
        simulator.pbx.listeners.append(self._listen)

    def _listen(self, event: dict[str, Any]) -> None:
        if event["Event"] == "Newstate" and event["ChannelState"] == "5" and event["Channel"].startswith(
                "PJSIP/agent"):
            self.view.rings[f"{event['Linkedid']}|{event['Channel'][6:].rsplit('-', 1)[0]}"] = time.monotonic_ns()
        elif event["Event"] == "Newchannel" and event["Context"] == "cc-inbound":
            self.view.offered[event["Uniqueid"]] = time.monotonic()

    def start_traffic(self, rate: float, talk: float) -> None:
        self.people.start_traffic([CallerBehaviour(DNIS, rate * 60, Span(600, 600), Span(talk, talk), DIGITS)])

    def stop_traffic(self) -> None:
        self.people.stop_traffic()

    def dump(self, own_process: bool) -> dict[str, Any]:
        """A PbxView's fields (plain data: it crosses the pipe)."""
        return {"rings": dict(self.view.rings), "offered": dict(self.view.offered),
                "answers": self.people.stats.answers, "cpu": cpu_seconds() if own_process else 0.0}


class InProcessPbx:
    """The simulated PBX inside the server (`pbx.mode simulated`, as `callcenter demo` runs it)."""

    def __init__(self, center: CallCenter) -> None:
        assert center.simulator is not None
        self.tap = PbxTap(center.simulator)

    async def start_traffic(self, rate: float, talk: float) -> None:
        self.tap.start_traffic(rate, talk)

    async def stop_traffic(self) -> None:
        self.tap.stop_traffic()

    async def dump(self) -> PbxView:
        return PbxView(**self.tap.dump(own_process=False))

    async def close(self) -> None:
        self.tap.stop_traffic()


class PbxProcess:
    """The simulated PBX in a process of its own, reached by the server over AMI like a real Asterisk and
    driven by the bench over a pipe."""

    def __init__(self, settings: Settings, secret: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.process = context.Process(target=pbx_main, args=(child, settings.model_dump_json(), secret),
                                       name="simulated-pbx")
        self.process.start()

    async def _ask(self, *command: Any) -> Any:
        self.pipe.send(command)
        return await asyncio.to_thread(self.pipe.recv)

    async def ready(self) -> None:
        assert await asyncio.wait_for(asyncio.to_thread(self.pipe.recv), 60) == "ready"

    async def start_traffic(self, rate: float, talk: float) -> None:
        await self._ask("traffic", rate, talk)

    async def stop_traffic(self) -> None:
        await self._ask("stop_traffic")

    async def dump(self) -> PbxView:
        return PbxView(**await self._ask("dump"))

    async def close(self) -> None:
        await self._ask("stop")
        await asyncio.to_thread(self.process.join, 30)


def pbx_main(pipe: Any, settings_json: str, secret: str) -> None:
    """The PBX process: the simulator as `callcenter demo` builds it, on the settings' AMI port."""
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_serve_pbx(pipe, Settings.model_validate_json(settings_json), secret))


async def _serve_pbx(pipe: Any, settings: Settings, secret: str) -> None:
    sim = settings.simulator
    simulator = Simulator(load_scenario(sim.scenario), load_dialplan(settings, sim.dialplan),
                          username=settings.ami.username, secret=secret, port=settings.ami.port,
                          speed=sim.speed, recordings=sim.recordings_dir)
    await simulator.start()
    tap = PbxTap(simulator)
    pipe.send("ready")
    while True:
        command, *arguments = await asyncio.to_thread(pipe.recv)
        if command == "traffic":
            tap.start_traffic(*arguments)
            pipe.send(None)
        elif command == "stop_traffic":
            tap.stop_traffic()
            pipe.send(None)
        elif command == "dump":
            pipe.send(tap.dump(own_process=True))
        else:
            tap.stop_traffic()
            await simulator.stop()
            pipe.send(None)
            return


async def run(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        settings = settings_for(tmp, args.agents)
        pbx_process = None
        if args.pbx == "process":  # the server is configured as for a real Asterisk
            secret = secrets.token_urlsafe(18)
            settings = settings.model_copy(update={
                "pbx": PbxSettings(mode="asterisk"),
                "ami": settings.ami.model_copy(update={"port": free_port(), "secret": SecretStr(secret)})})
            pbx_process = PbxProcess(settings, secret)
            await pbx_process.ready()
        await migrate(settings.database.url)
        center = CallCenter(settings, password_hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        tokens = {}
        for n in range(args.agents):
            endpoint = f"agent{FIRST_AGENT + n}"
            await center.auth.create_user(f"bench{n}", f"Bench {n}", Role.AGENT, PASSWORD, endpoint=endpoint)
            session = await center.auth.login(f"bench{n}", PASSWORD, ip="127.0.0.1", user_agent="bench")
            tokens[endpoint] = session.token
        (tmp / "tokens.json").write_text(json.dumps(tokens))
        loop = asyncio.get_running_loop()
        server = loop.create_task(center.run())
        await _until(lambda: center.connection.ready and center.pipeline.stats.resyncs > 0, 60)
        pbx: InProcessPbx | PbxProcess = pbx_process or InProcessPbx(center)
        client = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--client", str(settings.http.port), str(tmp / "tokens.json"),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=256 * 1024 * 1024)  # one line carries a step's pops: thousands of them
        assert client.stdout is not None and client.stdin is not None
        assert (await asyncio.wait_for(client.stdout.readline(), 120)).strip() == b"ready"
        await _until(lambda: center.desktop.hub.stats.connections >= args.agents, 120)
        print(f"agents={args.agents} clients_connected={center.desktop.hub.stats.connections} "
              f"talk_seconds={args.talk} step_seconds={args.step_seconds} pbx={args.pbx}")
        ended: set[str] = set()
        center.bus.subscribe("bench", _collect_ended(ended))
        for rate in args.rates:
            await step(args, rate, center, pbx, client, ended)
        await pbx.stop_traffic()
        client.stdin.write(b"stop\n")
        await client.stdin.drain()
        await client.wait()
        center.stop()
        await asyncio.wait_for(server, 60)
        await pbx.close()


def _collect_ended(ended: set[str]) -> Any:
    from cti.events import CallEnded

    async def handler(event: Any) -> None:
        if isinstance(event, CallEnded):
            ended.add(event.record.call_id)

    return handler


async def step(args: argparse.Namespace, rate: float, center: CallCenter, pbx: InProcessPbx | PbxProcess,
               client: Any, ended: set[str]) -> None:
    before = await pbx.dump()
    cpu0, wall0 = cpu_seconds(), time.monotonic()
    await pbx.start_traffic(rate, args.talk)
    await asyncio.sleep(args.step_seconds)  # the benchmark's own duration, not a wait for a result
    cpu, wall = cpu_seconds() - cpu0, time.monotonic() - wall0
    during = await pbx.dump()
    await pbx.stop_traffic()
    answers, pbx_cpu = during.answers - before.answers, during.cpu - before.cpu
    in_step = [call for call in during.offered if call not in before.offered]
    # every call of the step should end within IVR + talk time: wait for that, bounded
    drain = args.talk + 30
    await _until(lambda: all(c in ended for c in in_step), drain, fail=False)
    live = {c.call_id for c in center.tracker.live_calls()}
    lost = [c for c in in_step if c not in ended and c not in live]
    stuck = [c for c in in_step if c in live]
    client.stdin.write(b"dump\n")
    await client.stdin.drain()
    received = json.loads(await asyncio.wait_for(client.stdout.readline(), 60))
    rings = (await pbx.dump()).rings
    latencies = [(at - rings[key]) / 1e6 for key, at in received.items() if key in rings]
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    offered = len(in_step) / wall
    # sustained: the calls were offered at the rate asked (a saturated PBX offers fewer), popped fast
    # enough, and none was lost or left stuck
    ok = rate < 50 or (offered >= 0.95 * rate and p99 < 100 and not lost and not stuck)
    print(f"rate_target={rate:g} offered_calls_per_s={offered:.1f} "
          f"answered_calls_per_s={answers / wall:.1f} pops={len(latencies)} pop_p50_ms={p50:.1f} "
          f"pop_p99_ms={p99:.1f} pop_max_ms={max(latencies, default=float('nan')):.1f} "
          f"server_cpu_share={cpu / wall:.2f} server_rss_mib={rss_mib():.0f} pbx_cpu_share={pbx_cpu / wall:.2f} "
          f"lost_calls={len(lost)} stuck_calls={len(stuck)} meets_target={'yes' if ok else 'no'}", flush=True)


async def _until(condition: Any, within: float, *, fail: bool = True) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            if fail:
                raise AssertionError("condition not reached in time")
            return
        await asyncio.sleep(0.05)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        asyncio.run(clients(int(sys.argv[2]), json.loads(Path(sys.argv[3]).read_text())))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--rates", type=lambda text: [float(r) for r in text.split(",")], default=[10, 25, 50, 75])
    parser.add_argument("--step-seconds", type=float, default=30)
    parser.add_argument("--talk", type=float, default=15)
    parser.add_argument("--pbx", choices=("process", "in-process"), default="process",
                        help="the simulated PBX in a process of its own (as Asterisk) or inside the server")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

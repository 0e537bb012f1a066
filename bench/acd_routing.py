"""ACD routing: decision latency and throughput of `acd.Router` at call-center scale, against a plain
FIFO pick (first free agent, first waiting call, same skill rule) on the same stream in the same run.

    python bench/acd_routing.py [--events 20000] [--seed 7]

2,000 agents with 3-5 of 100 skills (levels 1-10), one queue per skill (required level 3, mixed
policies), brought to a steady state with every agent that can work on a call and 1,000 callers
waiting. Then a seeded stream alternates caller arrivals (random queue, 10% VIP) and agents becoming
available (a random agent on a call hangs up, no wrap-up, and takes its next caller). Each input is
one decision; the time of each input is measured. Answering an offered call is bookkeeping outside
the timing, for both.

Prints name=value lines, the ratio last. Targets: p99 < 1 ms, >= 10,000 decisions/s, ours / FIFO
time <= 3.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from support import percentile  # noqa: E402

from acd import (  # noqa: E402
    AcdSettings,
    AgentConfig,
    Call,
    QueueConfig,
    Router,
    RoutingPolicy,
    SkillRequirement,
)
from acd.events import CallOffered  # noqa: E402

AGENTS, SKILLS, WAITING, MIN_LEVEL = 2_000, 100, 1_000, 3
POLICIES = (RoutingPolicy.LONGEST_IDLE, RoutingPolicy.LEAST_CALLS, RoutingPolicy.ROUND_ROBIN,
            RoutingPolicy.BEST_PROFICIENCY)

Stream = list[tuple[str, int, int]]  # ("arrive", queue, priority) | ("free", pick, 0)


def build(seed: int, events: int) -> tuple[list[QueueConfig], list[AgentConfig], Stream, Stream]:
    rng = random.Random(seed)
    queues = [QueueConfig(f"q{n}", (SkillRequirement(f"s{n}", MIN_LEVEL),), policy=POLICIES[n % len(POLICIES)])
              for n in range(SKILLS)]
    agents = []
    for n in range(AGENTS):
        skills = {f"s{k}": rng.randint(1, 10) for k in rng.sample(range(SKILLS), rng.randint(3, 5))}
        agents.append(AgentConfig(f"a{n}", skills, tuple(f"q{s[1:]}" for s in sorted(skills))))
    warmup: Stream = [("arrive", rng.randrange(SKILLS), 0) for _ in range(AGENTS * 2)]
    stream: Stream = []
    for n in range(events):
        if n % 2:
            stream.append(("free", rng.randrange(1 << 30), 0))
        else:
            stream.append(("arrive", rng.randrange(SKILLS), 1 if rng.random() < 0.1 else 0))
    return queues, agents, warmup, stream


class Fifo:
    """The plain pick: one list of free agents (in the order they became free), one list of waiting
    callers (in arrival order), first match wins. Same skill rule as the router's queues."""

    def __init__(self, queues: list[QueueConfig]) -> None:
        self.required = {q.name: (q.required[0].skill, q.required[0].min_level) for q in queues}
        self.free: list[AgentConfig] = []
        self.waiting: list[tuple[str, str]] = []  # (call_id, queue)
        self.agent_call: dict[str, str] = {}

    def _fits(self, agent: AgentConfig, queue: str) -> bool:
        skill, level = self.required[queue]
        return queue in agent.queues and agent.skills.get(skill, 0) >= level

    def arrive(self, call_id: str, queue: str) -> str | None:
        for index, agent in enumerate(self.free):
            if self._fits(agent, queue):
                del self.free[index]
                self.agent_call[agent.agent_id] = call_id
                return agent.agent_id
        self.waiting.append((call_id, queue))
        return None

    def available(self, agent: AgentConfig) -> str | None:
        self.agent_call.pop(agent.agent_id, None)
        for index, (call_id, queue) in enumerate(self.waiting):
            if self._fits(agent, queue):
                del self.waiting[index]
                self.agent_call[agent.agent_id] = call_id
                return call_id
        self.free.append(agent)
        return None


Decide = Callable[[str, str, int, float], object]  # a caller arrives: the input, timed
Free = Callable[[str, float], object]              # an agent on a call hangs up: the input, timed
Settle = Callable[[object, float], list[str]]      # answer what was offered (untimed): agents given a caller


def drive(arrive: Decide, hang_up: Free, settle: Settle, warmup: Stream, stream: Stream,
          queues: list[QueueConfig], waiting: Callable[[], int]) -> tuple[list[int], int]:
    """Warm up untimed until WAITING callers wait, then run the stream, timing each input alone.
    Returns per-input nanoseconds and the number of callers given to agents during the stream."""
    on_call: list[str] = []
    clock = 0.0
    serial = 0
    for _, queue, priority in warmup:
        if waiting() >= WAITING:
            break
        clock += 0.01
        serial += 1
        on_call += settle(arrive(f"w{serial}", queues[queue].name, priority, clock), clock)
    times: list[int] = []
    offers = 0
    perf = time.perf_counter_ns
    for kind, value, priority in stream:
        clock += 0.01
        if kind == "arrive":
            serial += 1
            call_id, queue = f"c{serial}", queues[value].name
            started = perf()
            result = arrive(call_id, queue, priority, clock)
            times.append(perf() - started)
        else:
            index = value % len(on_call)
            agent_id = on_call[index]
            on_call[index] = on_call[-1]
            on_call.pop()
            started = perf()
            result = hang_up(agent_id, clock)
            times.append(perf() - started)
        got = settle(result, clock)
        on_call += got
        offers += len(got)
    return times, offers


def run_router(queues: list[QueueConfig], agents: list[AgentConfig], warmup: Stream,
               stream: Stream) -> tuple[list[int], int, int]:
    router = Router(AcdSettings(tuple(queues)))
    for agent in agents:
        router.log_in(agent, 0.0)
    calls = {agent.agent_id: "" for agent in agents}  # the harness knows who talks to whom

    def arrive(call_id: str, queue: str, priority: int, now: float) -> object:
        return router.call_arrived(Call(call_id, queue, priority), now)

    def hang_up(agent_id: str, now: float) -> object:
        return router.call_ended(calls[agent_id], now)

    def settle(events: object, now: float) -> list[str]:
        assert isinstance(events, list)
        got = [e for e in events if isinstance(e, CallOffered)]
        for offer in got:  # the agent answers at once
            router.call_connected(offer.call_id, now)
            calls[offer.agent_id] = offer.call_id
        return [offer.agent_id for offer in got]

    def waiting() -> int:
        return sum(len(router.waiting_calls(q.name)) for q in queues)

    times, offers = drive(arrive, hang_up, settle, warmup, stream, queues, waiting)
    return times, offers, waiting()


def run_fifo(queues: list[QueueConfig], agents: list[AgentConfig], warmup: Stream,
             stream: Stream) -> tuple[list[int], int, int]:
    fifo = Fifo(queues)
    by_id = {agent.agent_id: agent for agent in agents}
    for agent in agents:
        fifo.available(agent)

    def arrive(call_id: str, queue: str, priority: int, now: float) -> object:
        return fifo.arrive(call_id, queue)

    def hang_up(agent_id: str, now: float) -> object:
        return agent_id if fifo.available(by_id[agent_id]) is not None else None

    def settle(result: object, now: float) -> list[str]:
        return [] if result is None else [str(result)]

    times, offers = drive(arrive, hang_up, settle, warmup, stream, queues, lambda: len(fifo.waiting))
    return times, offers, len(fifo.waiting)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    queues, agents, warmup, stream = build(args.seed, args.events)
    gc.collect()
    ours, ours_offers, ours_left = run_router(queues, agents, warmup, stream)
    gc.collect()
    fifo, fifo_offers, fifo_left = run_fifo(queues, agents, warmup, stream)
    ours_s, fifo_s = sum(ours) / 1e9, sum(fifo) / 1e9
    print(f"agents={AGENTS}")
    print(f"skills={SKILLS}")
    print(f"waiting_at_start={WAITING}")
    print(f"inputs={len(stream)}")
    print(f"ours_offers={ours_offers}")
    print(f"ours_waiting_at_end={ours_left}")
    print(f"ours_p50_us={percentile(ours, 0.50) / 1000:.1f}")
    print(f"ours_p99_us={percentile(ours, 0.99) / 1000:.1f}")
    print(f"ours_max_us={max(ours) / 1000:.1f}")
    print(f"ours_decisions_per_s={len(ours) / ours_s:.0f}")
    print(f"fifo_offers={fifo_offers}")
    print(f"fifo_waiting_at_end={fifo_left}")
    print(f"fifo_p50_us={percentile(fifo, 0.50) / 1000:.1f}")
    print(f"fifo_p99_us={percentile(fifo, 0.99) / 1000:.1f}")
    print(f"fifo_decisions_per_s={len(fifo) / fifo_s:.0f}")
    print(f"ratio_ours_over_fifo_time={ours_s / fifo_s:.2f}")


if __name__ == "__main__":
    main()

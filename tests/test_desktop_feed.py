"""The desktop feed on its own: the customer lookups behind the screen pop."""

from __future__ import annotations

import asyncio
import json
import time
from types import SimpleNamespace
from typing import Any

from waiting import until

from callcenter.customers.service import CustomerSummary
from callcenter.desktop.calls import CallBook
from callcenter.ws.feed import LOOKUPS_AT_ONCE, DesktopFeed
from callcenter.ws.hub import Hello, Hub, agent_audience
from cti.events import CallOffered, CallStarted
from cti.records import Direction

RINGING_NUMBER = "+44 20 7946 0999"


class SlowCustomers:
    """Every lookup by number waits until `release`, but the ringing caller's answers at once."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.asked: list[str] = []

    async def summary_by_phone(self, number: str) -> CustomerSummary | None:
        self.asked.append(number)
        if number != RINGING_NUMBER:
            await self.release.wait()
        return None

    async def summary_by_reference(self, reference: str) -> CustomerSummary | None:
        return None


def _started(call_id: str, number: str) -> CallStarted:
    return CallStarted(time.time(), call_id, Direction.INBOUND, number, None, "8005550100", f"PJSIP/cc-trunk-{call_id}")


async def test_a_ringing_calls_lookup_does_not_wait_behind_a_burst_of_lookups() -> None:
    """A burst of calls (as a resync after a restart announces) fills every lookup slot and queues more;
    the call that rings meanwhile is looked up at once, out of turn, and its agent gets the pop while the
    burst's lookups still wait."""
    hub, customers = Hub(), SlowCustomers()
    routing: Any = SimpleNamespace(config=SimpleNamespace(settings=SimpleNamespace(queues=[])), router=None)
    feed = DesktopFeed(CallBook(), hub, customers, routing, time.time,  # type: ignore[arg-type]
                       simulated=True, speed=1.0, dispositions=[])
    agent = hub.connection("agent1001@test")
    hub.attach(agent, agent_audience("agent1001"), Hello(), lambda: {})
    assert json.loads(agent.get_nowait() or "")["type"] == "snapshot"
    running = asyncio.create_task(feed.run())
    await asyncio.sleep(0)  # the feed's task group is up
    for n in range(LOOKUPS_AT_ONCE + 5):
        feed.handle_call_event(_started(f"burst-{n}", f"+44 20 7946 {n:04d}"))
    feed.handle_call_event(_started("ringing", RINGING_NUMBER))
    await until(lambda: len(customers.asked) == LOOKUPS_AT_ONCE)  # every slot taken, 6 lookups queued
    assert feed.lookups_pending == LOOKUPS_AT_ONCE + 6

    feed.handle_call_event(CallOffered(time.time(), "ringing", "agent1001", "leg-1", None))
    ringing = json.loads(await asyncio.wait_for(agent.next(), 5) or "")
    assert (ringing["type"], ringing["event"]) == ("call", "ringing")
    pop = json.loads(await asyncio.wait_for(agent.next(), 5) or "")
    assert (pop["type"], pop["call_id"], pop["customer"]) == ("screen_pop", "ringing", None)
    assert customers.asked[-1] == RINGING_NUMBER and not customers.release.is_set()
    assert feed.lookups_pending == LOOKUPS_AT_ONCE + 5  # the burst's, still waiting

    customers.release.set()
    await until(lambda: feed.lookups_pending == 0)
    assert len(customers.asked) == LOOKUPS_AT_ONCE + 6  # the ringing call was looked up once, not twice
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)

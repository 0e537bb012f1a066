"""The in-process event bus: ordered delivery, bounded queues, slow and failing subscribers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from callcenter.bus import EventBus


@pytest.fixture
async def bus() -> AsyncIterator[EventBus[object]]:
    bus: EventBus[object] = EventBus(default_maxsize=100)
    yield bus


async def _running(bus: EventBus[object]) -> asyncio.Task[None]:
    task = asyncio.create_task(bus.run())
    await asyncio.sleep(0)  # let run() start its TaskGroup
    return task


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_every_subscriber_gets_every_event_in_order(bus: EventBus[object]) -> None:
    seen: dict[str, list[object]] = {"a": [], "b": []}
    for name in seen:
        async def handler(event: object, name: str = name) -> None:
            seen[name].append(event)
        bus.subscribe(name, handler)
    task = await _running(bus)
    bus.publish_all(list(range(50)))
    await asyncio.wait_for(bus.drain(), 2)
    assert seen == {"a": list(range(50)), "b": list(range(50))}
    assert [s.delivered for s in bus.stats] == [50, 50]
    await _stop(task)


async def test_accepts_filters_by_type(bus: EventBus[object]) -> None:
    got: list[object] = []

    async def handler(event: object) -> None:
        got.append(event)

    bus.subscribe("ints", handler, accepts=(int,))
    task = await _running(bus)
    bus.publish_all([1, "two", 3.0, 4])
    await asyncio.wait_for(bus.drain(), 2)
    assert got == [1, 4]
    await _stop(task)


async def test_slow_subscriber_loses_its_oldest_events_and_nobody_waits(
    bus: EventBus[object], caplog: pytest.LogCaptureFixture
) -> None:
    release = asyncio.Event()
    slow_seen: list[object] = []
    fast_seen: list[object] = []

    async def slow(event: object) -> None:
        await release.wait()
        slow_seen.append(event)

    async def fast(event: object) -> None:
        fast_seen.append(event)

    slow_stats = bus.subscribe("slow", slow, maxsize=5)
    bus.subscribe("fast", fast)
    task = await _running(bus)
    bus.publish(0)
    await asyncio.sleep(0)  # the slow subscriber takes event 0 and blocks in its handler
    with caplog.at_level(logging.WARNING, logger="callcenter.bus"):
        bus.publish_all(list(range(1, 21)))  # returns at once: publish never waits
    assert slow_stats.dropped == 15 and slow_stats.queued == 5 and slow_stats.max_queued == 5
    assert "subscriber slow is too slow" in caplog.text
    release.set()
    await asyncio.wait_for(bus.drain(), 2)
    assert slow_seen == [0, 16, 17, 18, 19, 20]  # the newest survive
    assert fast_seen == list(range(21))
    await _stop(task)


async def test_failing_handler_is_counted_and_keeps_running(
    bus: EventBus[object], caplog: pytest.LogCaptureFixture
) -> None:
    got: list[object] = []

    async def flaky(event: object) -> None:
        if event == "bad":
            raise RuntimeError("boom")
        got.append(event)

    stats = bus.subscribe("flaky", flaky)
    task = await _running(bus)
    with caplog.at_level(logging.ERROR, logger="callcenter.bus"):
        bus.publish_all(["a", "bad", "b"])
        await asyncio.wait_for(bus.drain(), 2)
    assert got == ["a", "b"]
    assert (stats.delivered, stats.failed) == (2, 1)
    assert "subscriber flaky failed on str" in caplog.text
    await _stop(task)


async def test_subscribe_while_running_and_stop_cancels_every_task(bus: EventBus[object]) -> None:
    got: list[object] = []

    async def late(event: object) -> None:
        got.append(event)

    task = await _running(bus)
    bus.subscribe("late", late)
    bus.publish("x")
    await asyncio.wait_for(bus.drain(), 2)
    assert got == ["x"]
    await _stop(task)
    assert not [t for t in asyncio.all_tasks() if (t.get_name() or "").startswith("bus:")]


def test_publish_without_running_loop_only_queues() -> None:
    bus: EventBus[object] = EventBus(default_maxsize=3)

    async def never(event: object) -> None:  # pragma: no cover - never awaited
        raise AssertionError

    stats = bus.subscribe("idle", never)
    bus.publish_all([1, 2, 3, 4])
    assert (stats.queued, stats.dropped, bus.published) == (3, 1, 4)


async def test_a_batch_subscriber_gets_what_queued_up_while_it_was_busy(bus: EventBus[object]) -> None:
    """The first event alone (nothing else was queued), then the 9 that came in while the handler waited,
    cut at max_batch 4, in order; a failing batch counts each of its events; drain() waits for all."""
    batches: list[list[object]] = []
    release = asyncio.Event()

    async def handler(events: list[object]) -> None:
        batches.append(events)
        if len(batches) == 1:
            await release.wait()
        if "bad" in events:
            raise ValueError("refused")

    stats = bus.subscribe_batches("writer", handler, max_batch=4, accepts=(int, str))
    task = await _running(bus)
    bus.publish(0)
    await asyncio.sleep(0.01)
    bus.publish_all([1, 2, 3, 4, 5.5, 6, 7, 8, "bad", 9])  # 5.5: not accepted
    release.set()
    await asyncio.wait_for(bus.drain(), 2)
    assert batches == [[0], [1, 2, 3, 4], [6, 7, 8, "bad"], [9]]
    assert (stats.delivered, stats.failed, stats.queued) == (6, 4, 0)
    await _stop(task)

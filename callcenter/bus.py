"""In-process publish/subscribe of domain events.

`publish` is synchronous and never blocks: the tracker calls it from the AMI read path. Each
subscriber has its own bounded queue and its own task; a subscriber that falls behind loses the
oldest events of its own queue (counted, logged, reported in `stats`), never anyone else's and never
the tracker's time. Subscribers that must not lose anything (the CDR writer) keep their handlers fast
and get a deep queue; their drop counter is the alarm. A batch subscriber (`subscribe_batches`) gets
everything that queued up while it was busy at once: the history writers store it in one transaction.

Designed to sit behind one interface so that a multi-node deployment can put a network bus (Redis,
NATS) behind `publish` without changing publishers or subscribers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

E = TypeVar("E")
Handler = Callable[[E], Awaitable[None]]
BatchHandler = Callable[[list[E]], Awaitable[None]]


@dataclass(slots=True)
class SubscriberStats:
    name: str
    delivered: int = 0
    dropped: int = 0
    failed: int = 0        # handler raised (logged; the subscriber keeps running)
    queued: int = 0
    max_queued: int = 0


class _Subscription(Generic[E]):
    def __init__(self, name: str, handler: Handler[E] | None, maxsize: int, accepts: tuple[type, ...] | None,
                 batch_handler: BatchHandler[E] | None = None, max_batch: int = 1):
        self.name = name
        self.handler = handler
        self.batch_handler = batch_handler
        self.max_batch = max_batch
        self.accepts = accepts
        self.queue: asyncio.Queue[E] = asyncio.Queue(maxsize)
        self.stats = SubscriberStats(name)

    def offer(self, event: E) -> None:
        if self.accepts is not None and not isinstance(event, self.accepts):
            return
        if self.queue.full():
            self.queue.get_nowait()  # the oldest goes: a live view wants the newest state
            self.queue.task_done()   # ... and counts as handled, or drain() would wait for ever
            self.stats.dropped += 1
            if self.stats.dropped == 1 or self.stats.dropped % 1000 == 0:
                log.warning("subscriber %s is too slow: %d events dropped", self.name, self.stats.dropped)
        self.queue.put_nowait(event)
        size = self.queue.qsize()
        self.stats.queued = size
        if size > self.stats.max_queued:
            self.stats.max_queued = size

    async def serve(self) -> None:
        if self.batch_handler is not None:
            return await self._serve_batches(self.batch_handler)
        assert self.handler is not None
        while True:
            event = await self.queue.get()
            try:
                await self.handler(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.stats.failed += 1
                log.exception("subscriber %s failed on %s", self.name, type(event).__name__)
            else:
                self.stats.delivered += 1
            finally:
                self.stats.queued = self.queue.qsize()
                self.queue.task_done()

    async def _serve_batches(self, handler: BatchHandler[E]) -> None:
        while True:
            batch = [await self.queue.get()]
            while len(batch) < self.max_batch and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                await handler(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.stats.failed += len(batch)
                log.exception("subscriber %s failed on a batch of %d events", self.name, len(batch))
            else:
                self.stats.delivered += len(batch)
            finally:
                self.stats.queued = self.queue.qsize()
                for _ in batch:
                    self.queue.task_done()

    async def drain(self) -> None:
        await self.queue.join()


class EventBus(Generic[E]):
    """Owns one task per subscriber while `run()` is running (a TaskGroup: nothing fire-and-forget)."""

    def __init__(self, default_maxsize: int = 10_000) -> None:
        self._default_maxsize = default_maxsize
        self._subscriptions: list[_Subscription[E]] = []
        self._group: asyncio.TaskGroup | None = None
        self.published = 0

    def subscribe(
        self,
        name: str,
        handler: Handler[E],
        *,
        maxsize: int | None = None,
        accepts: tuple[type, ...] | None = None,
    ) -> SubscriberStats:
        subscription = _Subscription(name, handler, maxsize or self._default_maxsize, accepts)
        self._subscriptions.append(subscription)
        if self._group is not None:
            self._group.create_task(subscription.serve(), name=f"bus:{name}")
        return subscription.stats

    def subscribe_batches(
        self,
        name: str,
        handler: BatchHandler[E],
        *,
        max_batch: int,
        maxsize: int | None = None,
        accepts: tuple[type, ...] | None = None,
    ) -> SubscriberStats:
        """Like `subscribe`, but the handler gets what queued up while it was busy, in order, up to
        `max_batch` events at a time: a writer stores them in one transaction instead of one each."""
        subscription = _Subscription(name, None, maxsize or self._default_maxsize, accepts, handler, max_batch)
        self._subscriptions.append(subscription)
        if self._group is not None:
            self._group.create_task(subscription.serve(), name=f"bus:{name}")
        return subscription.stats

    def publish(self, event: E) -> None:
        self.published += 1
        for subscription in self._subscriptions:
            subscription.offer(event)

    def publish_all(self, events: list[E]) -> None:
        for event in events:
            self.publish(event)

    @property
    def stats(self) -> list[SubscriberStats]:
        return [s.stats for s in self._subscriptions]

    async def drain(self) -> None:
        """Wait until every subscriber has handled everything published so far."""
        for subscription in self._subscriptions:
            await subscription.drain()

    async def run(self) -> None:
        """Serve every subscriber until cancelled."""
        async with asyncio.TaskGroup() as group:
            self._group = group
            try:
                for subscription in self._subscriptions:
                    group.create_task(subscription.serve(), name=f"bus:{subscription.name}")
                await asyncio.Event().wait()
            finally:
                self._group = None

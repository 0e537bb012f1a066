"""Time for the simulated PBX: a virtual clock for tests and replays, the event loop's for a live run.

The PBX never reads a clock of its own: it asks its scheduler for `now()` (epoch seconds, as Asterisk's
Uniqueids and timestamps use) and for timers. Tests drive a `VirtualClock` step by step, so a
scenario that takes a minute of PBX time runs in milliseconds and always in the same order; the
demo runs on `LoopClock`, optionally sped up.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    def now(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer: ...


class _VirtualTimer:
    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """Time moves only when told to; callbacks due at the same instant run in the order they were set."""

    def __init__(self, start: float = 1_795_000_000.0) -> None:
        self._now = start
        self._queue: list[tuple[float, int, _VirtualTimer, Callable[[], None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = _VirtualTimer()
        heapq.heappush(self._queue, (self._now + max(delay, 0.0), next(self._order), timer, callback))
        return timer

    def next_due(self) -> float | None:
        while self._queue and self._queue[0][2].cancelled:
            heapq.heappop(self._queue)
        return self._queue[0][0] if self._queue else None

    def run_until(self, when: float) -> None:
        """Run every callback due up to `when` (those they schedule too), then stand at `when`."""
        while (due := self.next_due()) is not None and due <= when:
            at, _, timer, callback = heapq.heappop(self._queue)
            self._now = max(self._now, at)
            if not timer.cancelled:
                callback()
        self._now = max(self._now, when)

    def advance(self, seconds: float) -> None:
        self.run_until(self._now + seconds)


class LoopClock:
    """The running event loop's clock, as epoch seconds; `speed` > 1 makes PBX time run faster."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, not {speed}")
        self.speed = speed
        self._loop = asyncio.get_running_loop()
        self._origin_loop = self._loop.time()
        self._origin_epoch = time.time()

    def now(self) -> float:
        return self._origin_epoch + (self._loop.time() - self._origin_loop) * self.speed

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return self._loop.call_later(max(delay, 0.0) / self.speed, callback)

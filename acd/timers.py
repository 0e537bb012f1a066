"""Deadlines of calls and agents in one heap, with lazy deletion.

Each record has a version; arming a timer bumps it, so an older heap entry for the same record is
stale and skipped. Ties on the due time go in arming order.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from enum import StrEnum


class TimerKind(StrEnum):
    CALL = "call"     # ring timeout, relaxation step, overflow, max wait, callback retry
    AGENT = "agent"   # end of wrap-up
    QUEUE = "queue"   # business hours: the queue opens or closes


Entry = tuple[float, int, TimerKind, str, int]  # due, order, kind, id, version


class Deadlines:
    __slots__ = ("_heap", "_order")

    def __init__(self) -> None:
        self._heap: list[Entry] = []
        self._order = 0

    def arm(self, due: float, kind: TimerKind, ident: str, version: int) -> None:
        self._order += 1
        heapq.heappush(self._heap, (due, self._order, kind, ident, version))

    def earliest(self, is_live: Callable[[TimerKind, str, int], bool]) -> float | None:
        while self._heap:
            due, _, kind, ident, version = self._heap[0]
            if is_live(kind, ident, version):
                return due
            heapq.heappop(self._heap)
        return None

    def pop_due(self, now: float, is_live: Callable[[TimerKind, str, int], bool]) -> tuple[TimerKind, str] | None:
        while self._heap and self._heap[0][0] <= now:
            _, _, kind, ident, version = heapq.heappop(self._heap)
            if is_live(kind, ident, version):
                return kind, ident
        return None

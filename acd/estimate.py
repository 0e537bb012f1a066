"""Expected wait for announcements, from the queue's live answer rate.

The rate is the number of callers answered in the queue during the last `window` seconds divided by
that time (or by the time since the first of them, when the queue is younger than the window). A caller
at position p then expects p / rate seconds. With no answer in the window there is no honest figure:
`expected_wait` returns None, and the announcement says the position only.
"""

from __future__ import annotations

from collections import deque


class AnswerRate:
    __slots__ = ("_answers", "window")

    def __init__(self, window: float = 900.0) -> None:
        if not window > 0:
            raise ValueError(f"window={window!r}: must be > 0 seconds")
        self.window = window
        self._answers: deque[float] = deque()

    def answered(self, now: float) -> None:
        self._answers.append(now)
        self._forget(now)

    def per_second(self, now: float) -> float | None:
        self._forget(now)
        if not self._answers:
            return None
        span = min(self.window, now - self._answers[0])
        # one answer just now would give an infinite rate: count the span as at least one minute
        return len(self._answers) / max(span, 60.0)

    def expected_wait(self, position: int, now: float) -> float | None:
        rate = self.per_second(now)
        return None if rate is None else position / rate

    def _forget(self, now: float) -> None:
        while self._answers and self._answers[0] < now - self.window:
            self._answers.popleft()

"""Login rate limit: failed sign-ins per login name and per client address in a sliding window.

Pure: every call takes `now` (seconds on any monotonic clock), so tests step time instead of sleeping.
It lives in the memory of one process; several nodes each count their own attempts.
"""

from __future__ import annotations

from collections import deque

# Bounds the memory an attacker can make us spend by trying many names or addresses.
MAX_KEYS = 100_000


class _Window:
    """Failure times per key within the last `window` seconds; blocked at `limit` failures."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def retry_after(self, key: str, now: float) -> float:
        times = self._recent(key, now)
        if times is None or len(times) < self.limit:
            return 0.0
        # blocked until enough of the oldest failures leave the window
        return times[len(times) - self.limit] + self.window - now

    def add(self, key: str, now: float) -> None:
        times = self._recent(key, now)
        if times is None:
            if len(self._failures) >= MAX_KEYS:
                self._prune(now)
            times = self._failures[key] = deque(maxlen=self.limit)
        times.append(now)

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def _prune(self, now: float) -> None:
        for key in list(self._failures):
            self._recent(key, now)
        while len(self._failures) >= MAX_KEYS:  # still full of live keys: drop the oldest-inserted
            del self._failures[next(iter(self._failures))]

    def __len__(self) -> int:
        return len(self._failures)


class LoginRateLimiter:
    def __init__(self, *, per_login: int, per_ip: int, window: float) -> None:
        self._logins = _Window(per_login, window)
        self._ips = _Window(per_ip, window)

    def retry_after(self, login: str, ip: str | None, now: float) -> float:
        """Seconds until a sign-in of `login` from `ip` may be tried; 0 when it may be tried now."""
        wait = self._logins.retry_after(login, now)
        if ip is not None:
            wait = max(wait, self._ips.retry_after(ip, now))
        return wait

    def failed(self, login: str, ip: str | None, now: float) -> None:
        self._logins.add(login, now)
        if ip is not None:
            self._ips.add(ip, now)

    def succeeded(self, login: str) -> None:
        """The right password clears the name's failures; the address keeps its count (one address
        that knows one password must not get unlimited guesses at every other name)."""
        self._logins.forget(login)

    @property
    def tracked(self) -> tuple[int, int]:
        """How many login names and addresses have failures in memory."""
        return len(self._logins), len(self._ips)

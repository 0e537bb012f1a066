"""Business hours and holidays, per calendar, in the calendar's time zone. Pure: `now` is passed in.

    office:
      time_zone: Europe/Berlin
      week: {"mon-fri": ["08:00-12:00", "13:00-18:00"], sat: ["09:00-12:00"]}
      holidays: ["2026-12-25", "2026-12-26"]
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OPEN, CLOSED, HOLIDAY = "open", "closed", "holiday"
_RANGE = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")


class CalendarError(ValueError):
    pass


@dataclass(frozen=True)
class Calendar:
    time_zone: str = "UTC"
    week: dict[int, tuple[tuple[int, int], ...]] = field(default_factory=dict)  # weekday → (from, to) minutes
    holidays: frozenset[date] = frozenset()

    def state(self, now: datetime) -> str:
        """open / closed / holiday at `now` (an aware datetime)."""
        local = now.astimezone(ZoneInfo(self.time_zone))
        if local.date() in self.holidays:
            return HOLIDAY
        minute = local.hour * 60 + local.minute
        for start, end in self.week.get(local.weekday(), ()):
            if start <= minute < end:
                return OPEN
        return CLOSED


def _days(key: str) -> list[int]:
    days: list[int] = []
    for part in key.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise CalendarError(f"{key!r} is no day or day range (mon, tue, ... sun; mon-fri)")
        a, b = DAYS.index(first), DAYS.index(last or first)
        if b < a:
            raise CalendarError(f"{key!r}: the range runs backwards")
        days.extend(range(a, b + 1))
    return days


def _range(text: str) -> tuple[int, int]:
    match = _RANGE.fullmatch(text.strip())
    if match is None:
        raise CalendarError(f"{text!r} is no time range (HH:MM-HH:MM)")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59:
        raise CalendarError(f"{text!r} is no time range (HH:MM-HH:MM)")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end <= start:
        raise CalendarError(f"{text!r}: the range ends before it starts")
    return start, end


def build_calendar(time_zone: str, week: Mapping[str, Sequence[str]], holidays: Sequence[str]) -> Calendar:
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(f"unknown time zone {time_zone!r}") from None
    days: dict[int, list[tuple[int, int]]] = {}
    for key, ranges in week.items():
        for day in _days(key):
            days.setdefault(day, []).extend(_range(r) for r in ranges)
    dates = set()
    for text in holidays:
        try:
            dates.add(date.fromisoformat(text))
        except ValueError:
            raise CalendarError(f"holiday {text!r} is no date (YYYY-MM-DD)") from None
    return Calendar(time_zone, {d: tuple(sorted(r)) for d, r in days.items()}, frozenset(dates))

"""Business hours: weekly opening periods in a named time zone, plus holidays. Pure: `now` comes in.

The periods are wall-clock times in the center's zone, so a queue that opens at 08:00 opens at 08:00
on both sides of a daylight-saving change. A period may end at midnight (`closes=time(0)`); a night
service that runs past midnight is two periods (e.g. Friday 22:00-00:00 and Saturday 00:00-06:00).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Opening:
    weekday: int    # 0 Monday .. 6 Sunday (datetime.weekday())
    opens: time
    closes: time    # time(0) means midnight at the end of the day

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday={self.weekday!r}: must be 0 (Monday) .. 6 (Sunday)")
        if self.closes != time(0) and self.closes <= self.opens:
            raise ValueError(f"closes={self.closes.isoformat()!r}: must be after opens={self.opens.isoformat()!r}")

    def covers(self, moment: time) -> bool:
        return self.opens <= moment and (self.closes == time(0) or moment < self.closes)


@dataclass(frozen=True, slots=True)
class OpeningHours:
    time_zone: str
    periods: tuple[Opening, ...]
    holidays: frozenset[date] = frozenset()  # closed all day, in the zone's calendar

    def __post_init__(self) -> None:
        OpeningHours.zone(self.time_zone)

    @staticmethod
    def zone(name: str) -> ZoneInfo:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"time_zone={name!r}: unknown time zone") from exc

    @classmethod
    def weekly(cls, time_zone: str, days: str, opens: str, closes: str,
               holidays: frozenset[date] = frozenset()) -> OpeningHours:
        """Same hours on a range of days: `weekly("Europe/Paris", "mon-fri", "08:00", "18:00")`."""
        first, _, last = days.partition("-")
        try:
            start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        except ValueError:
            raise ValueError(f"days={days!r}: expected a day or a range such as 'mon-fri'") from None
        span = range(start, end + 1) if start <= end else [*range(start, 7), *range(0, end + 1)]
        try:
            opening, closing = time.fromisoformat(opens), time.fromisoformat(closes)
        except ValueError:
            raise ValueError(f"opens={opens!r} closes={closes!r}: expected HH:MM") from None
        return cls(time_zone, tuple(Opening(day, opening, closing) for day in span), holidays)

    def is_open(self, now: float) -> bool:
        local = datetime.fromtimestamp(now, OpeningHours.zone(self.time_zone))
        if local.date() in self.holidays:
            return False
        moment = local.time()
        return any(p.weekday == local.weekday() and p.covers(moment) for p in self.periods)

    def next_change(self, now: float, horizon_days: int = 400) -> float | None:
        """The first moment after `now` when `is_open` changes (opening, closing, a holiday starting
        or ending), or None if it does not change within `horizon_days`. Wall-clock boundaries are
        read in the zone, so a daylight-saving change moves them as it moves the clocks."""
        zone = OpeningHours.zone(self.time_zone)
        was_open = self.is_open(now)
        today = datetime.fromtimestamp(now, zone).date()
        for offset in range(horizon_days + 1):
            day = today + timedelta(days=offset)
            moments = {time(0)}  # midnight: a holiday starts or ends
            for period in self.periods:
                if period.weekday == day.weekday():
                    moments.add(period.opens)
                    moments.add(period.closes)  # time(0): the next day's midnight, checked then
            for moment in sorted(moments):
                at = datetime.combine(day, moment, zone).timestamp()
                if at > now and self.is_open(at) != was_open:
                    return at
        return None

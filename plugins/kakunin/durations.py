"""ISO 8601 durations in whole days and calendar months, as retention periods use them.

Retention is counted on the calendar (P1M from 31 January ends on the last day of
February), so a period is kept as its parts and applied to a date, never turned
into a number of days.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

_DURATION = re.compile(
    r"^(?P<sign>[-+])?P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?P<time>T.*)?\Z"
)


class DurationError(ValueError):
    """The text is not an ISO 8601 duration Kakunin can apply to a date."""


@dataclass(frozen=True, slots=True)
class IsoDuration:
    """A non-negative calendar duration: years, months, weeks and days."""

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0

    @property
    def is_zero(self) -> bool:
        return not (self.years or self.months or self.weeks or self.days)

    def add_to(self, start: date) -> date:
        """The date this duration after `start`; month ends clamp (Jan 31 + P1M = Feb 28/29).

        A result past the calendar's last day (9999-12-31) is that day: "kept until the end
        of the calendar" is the most any retention can say, and it must never overflow.
        """
        months = 12 * self.years + self.months
        if start.year * 12 + start.month - 1 + months > date.max.year * 12 + date.max.month - 1:
            return date.max
        moved = add_months(start, months)
        if (date.max - moved).days < 7 * self.weeks + self.days:
            return date.max
        return moved + timedelta(weeks=self.weeks, days=self.days)

    def __str__(self) -> str:
        if self.is_zero:
            return "P0D"
        parts = [(self.years, "Y"), (self.months, "M"), (self.weeks, "W"), (self.days, "D")]
        return "P" + "".join(f"{n}{unit}" for n, unit in parts if n)


def add_months(day: date, months: int) -> date:
    """`day` moved by whole calendar months (negative goes back), clamped to the month's end."""
    year, month_index = divmod(day.year * 12 + day.month - 1 + months, 12)
    month = month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def parse_duration(text: str) -> IsoDuration:
    """Parse `P3Y`, `P2Y6M`, `P30D`, `P1W`; refuse negatives, fractions and time parts."""
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if match is None or text.strip() in {"P", "-P", "+P"}:
        raise DurationError(f"{text!r} is not an ISO 8601 duration such as P3Y, P2Y6M or P30D")
    if match["time"] is not None:
        raise DurationError(f"{text!r} has a time part; retention periods are whole days (P…Y…M…D)")
    if match["sign"] == "-":
        raise DurationError(f"{text!r} is negative; a retention period must be positive")
    return IsoDuration(
        years=int(match["years"] or 0),
        months=int(match["months"] or 0),
        weeks=int(match["weeks"] or 0),
        days=int(match["days"] or 0),
    )

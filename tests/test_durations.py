"""ISO 8601 retention periods, applied on the calendar."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kakunin.durations import DurationError, IsoDuration, add_months, parse_duration


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        pytest.param("P1M", date(2026, 1, 31), date(2026, 2, 28), id="month-end-clamps"),
        pytest.param("P1M", date(2028, 1, 31), date(2028, 2, 29), id="leap-february"),
        pytest.param("P1Y", date(2028, 2, 29), date(2029, 2, 28), id="leap-day-plus-a-year"),
        pytest.param("P4Y", date(2028, 2, 29), date(2032, 2, 29), id="leap-day-plus-four-years"),
        pytest.param("P2Y6M", date(2026, 8, 31), date(2029, 2, 28), id="years-and-months"),
        pytest.param("P30D", date(2026, 2, 1), date(2026, 3, 3), id="days"),
        pytest.param("P1W", date(2026, 12, 28), date(2027, 1, 4), id="week-over-new-year"),
        pytest.param("P3Y", date(2026, 11, 20), date(2029, 11, 20), id="plain-years"),
        pytest.param("P1Y", date(9999, 12, 31), date.max, id="past-the-calendar-stops-at-its-last-day"),
        pytest.param("P1D", date(9999, 12, 31), date.max, id="last-day-plus-a-day"),
        pytest.param("P3D", date(9999, 12, 30), date.max, id="days-past-the-last-day"),
        pytest.param("P100000Y", date(2026, 11, 20), date.max, id="absurd-period"),
    ],
)
def test_adding_a_period(text: str, start: date, end: date) -> None:
    assert parse_duration(text).add_to(start) == end


@pytest.mark.parametrize("text", ["", "P", "3Y", "P1.5Y", "PT12H", "-P1Y", "P1Y2X", "p1y"])
def test_invalid_periods_are_refused(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


@given(st.integers(0, 50), st.integers(0, 24), st.integers(0, 400), st.dates(date(1950, 1, 1), date(2100, 1, 1)))
def test_a_period_never_ends_before_it_starts_and_round_trips(years: int, months: int, days: int, start: date) -> None:
    duration = IsoDuration(years=years, months=months, days=days)
    assert duration.add_to(start) >= start
    assert parse_duration(str(duration)) == duration


@given(st.integers(1900, 2100), st.integers(0, 10), st.integers(0, 40))
def test_month_end_and_leap_day_starts_clamp_to_the_last_day(year: int, years: int, months: int) -> None:
    """P1M from 31 January is the end of February; a leap day plus whole years is 28 Feb in common years."""
    import calendar

    from kakunin.durations import add_months as move

    for start in (date(year, 1, 31), date(year, 3, 31), date(year, 8, 31)):
        end = IsoDuration(years=years, months=months).add_to(start)
        last = calendar.monthrange(end.year, end.month)[1]
        assert end.day == min(31, last)
        assert end == move(start, 12 * years + months)
    if calendar.isleap(year):
        end = IsoDuration(years=years).add_to(date(year, 2, 29))
        assert end == date(year + years, 2, 29 if calendar.isleap(year + years) else 28)


@given(st.dates(date(1950, 1, 1), date(2100, 1, 1)))
def test_p2y6m_is_thirty_months(start: date) -> None:
    assert parse_duration("P2Y6M").add_to(start) == parse_duration("P30M").add_to(start)


@given(st.dates(date(1950, 1, 1), date(2100, 1, 1)), st.integers(-600, 600))
def test_moving_by_months_lands_in_the_right_month_and_never_overflows(day: date, months: int) -> None:
    moved = add_months(day, months)
    assert (moved.year * 12 + moved.month) - (day.year * 12 + day.month) == months
    assert moved.day == day.day or moved.day < day.day  # clamped only at a month's end

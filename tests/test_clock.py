"""Days are days in the business time zone, whatever the machine's clock says."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from kakunin.clock import local_date


def test_a_moment_after_midnight_in_tokyo_is_already_the_next_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAKUNIN_TIMEZONE", raising=False)
    assert local_date(datetime(2026, 11, 27, 15, 30, tzinfo=UTC)) == date(2026, 11, 28)
    assert local_date(datetime(2026, 11, 27, 14, 59, tzinfo=UTC)) == date(2026, 11, 27)


def test_the_zone_is_the_configured_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAKUNIN_TIMEZONE", "UTC")
    assert local_date(datetime(2026, 11, 27, 15, 30, tzinfo=UTC)) == date(2026, 11, 27)

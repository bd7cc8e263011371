"""Today's date and the current instant, read once at the edge and passed inward."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kakunin.errors import ConfigError


def business_timezone() -> ZoneInfo:
    """`KAKUNIN_TIMEZONE` (default Asia/Tokyo): dates such as `received_on` are local dates there."""
    name = os.environ.get("KAKUNIN_TIMEZONE", "Asia/Tokyo")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"KAKUNIN_TIMEZONE: unknown time zone {name!r}") from exc


def today() -> date:
    """Today in the business time zone, so a document dated today in Tokyo is not 'future'."""
    return datetime.now(business_timezone()).date()


def local_date(moment: datetime) -> date:
    """The day `moment` falls on in the business time zone (09:00 in Tokyo is still yesterday in UTC)."""
    return moment.astimezone(business_timezone()).date()


def now_utc() -> datetime:
    return datetime.now(UTC)

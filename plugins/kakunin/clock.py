"""Today's date and the current instant, read once at the edge and passed inward."""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime, timedelta, timezone
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


def fixed_offset(text: str) -> timezone:
    """`+09:00` as a fixed time zone (what policy files name their day by); ValueError for anything else."""
    match = re.fullmatch(r"([+-])(\d{2}):(\d{2})", text)
    if match is None or int(match[2]) > 14 or int(match[3]) > 59:
        raise ValueError(f"{text!r} is not a UTC offset like +09:00")
    delta = timedelta(hours=int(match[2]), minutes=int(match[3]))
    return timezone(delta if match[1] == "+" else -delta)

"""The field types every provenance block is built from, and the `TODO` placeholder.

Dates are strict ISO dates in a sane range, evidence ids have one spelling, and an empty
YAML value (`evidence:`) is an empty list. `TODO` is what `kakunin provenance upgrade` and
`draft` leave where only a person can decide; `is_todo` says whether a value is one.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

TODO = "TODO"
EARLIEST_DATE, LATEST_DATE = date(1900, 1, 1), date(2999, 12, 31)


_PLACEHOLDER = re.compile(r"TODO(?![A-Za-z0-9_])")


def is_todo(value: object) -> bool:
    """A placeholder left for staff: `TODO`, alone or followed by a hint (`TODO: 委託元の住所`).

    `TODOROKI株式会社` is a name, not a placeholder: TODO must not run on into a Latin word.
    """
    return isinstance(value, str) and _PLACEHOLDER.match(value.strip()) is not None


def _strict_iso_date(value: Any) -> Any:
    """Dates are ISO `YYYY-MM-DD` (quoted or not), between 1900 and 2999; numbers and date-times are refused.

    The range keeps date arithmetic in the checks (a year back, a retention period on) from
    running off the calendar: `0001-01-01` is a schema finding, not a crash.
    """
    if isinstance(value, datetime):
        raise ValueError("expected a date (YYYY-MM-DD), found a date and time")
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value) if len(value) == 10 else _bad_date(value)
        except ValueError:
            return _bad_date(value)
    if not isinstance(value, date):
        raise ValueError(f"expected a date (YYYY-MM-DD), found {type(value).__name__}")
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"expected a date between {EARLIEST_DATE} and {LATEST_DATE}, found {value}")
    return value


def _bad_date(value: str) -> Any:
    raise ValueError(f"expected a date as YYYY-MM-DD, found {value!r}")


def none_as_empty(value: Any) -> Any:
    """`evidence:` with nothing after it is an empty list, as a person means it."""
    return [] if value is None else value


def number_as_text(value: Any) -> Any:
    """An unquoted corporate number arrives as an int; it is text (13 digits)."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


DocDate = Annotated[date, BeforeValidator(_strict_iso_date)]
EvidenceId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
EvidenceIds = Annotated[list[EvidenceId], BeforeValidator(none_as_empty)]
PurposeIds = Annotated[list[str], BeforeValidator(none_as_empty)]
Categories = Annotated[list[Annotated[str, Field(min_length=1, max_length=128)]], BeforeValidator(none_as_empty)]
Text = Annotated[str, Field(max_length=2000)]
CorporateNumber = Annotated[
    str | None,
    BeforeValidator(number_as_text),
    Field(description="法人番号: 13 digits, the first a check digit."),
]
Country = Annotated[
    Annotated[str, Field(pattern=r"^[A-Z]{2}$")],
    BeforeValidator(upper),
    Field(description="ISO 3166-1 alpha-2."),
]

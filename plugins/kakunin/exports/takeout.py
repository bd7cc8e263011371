"""Take-out limits (APPI Art. 23, 24: watching what is taken out): rows and exports per day, columns.

`expectations/takeout-policy.yaml` sets the limits per person and purpose; the most specific
rule wins (person and purpose, then person, then purpose, then the default), and a rule
inherits what it leaves out from the default. The person is the one the export is for
(`--requested-by`); the day is the calendar day in the policy's time zone. `measure` is a
pure function: the export's own figures and the person's earlier exports that day in, one
`LimitCheck` per limit out. Over a limit, the policy's `on_exceed` decides: `refuse` (no
file) or `alert` (released, flagged for the daily review).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kakunin.clock import fixed_offset
from kakunin.exports.formats import ExportReceipt, LimitCheck

POLICY_FILE = "takeout-policy.yaml"
OnExceed = Literal["refuse", "alert"]


def same_person(a: str, b: str) -> bool:
    """Staff ids name one person whatever their case or surrounding blanks (E1024 is e1024)."""
    return a.strip().casefold() == b.strip().casefold()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(_Strict):
    """The default limits; every field is required here, so a rule always has a value to inherit."""

    rows_per_day: Annotated[int, Field(ge=0)] = 10_000
    exports_per_day: Annotated[int, Field(ge=0)] = 5
    columns: Annotated[int, Field(ge=0)] = 8
    on_exceed: OnExceed = "refuse"


class Rule(_Strict):
    """Limits for one person, one purpose, or one person and purpose; what it omits comes from the default."""

    person: str | None = None
    purpose: str | None = None
    rows_per_day: Annotated[int | None, Field(ge=0)] = None
    exports_per_day: Annotated[int | None, Field(ge=0)] = None
    columns: Annotated[int | None, Field(ge=0)] = None
    on_exceed: OnExceed | None = None

    @property
    def specificity(self) -> int:
        return 2 * (self.person is not None) + (self.purpose is not None)

    def matches(self, person: str, purpose: str) -> bool:
        return (self.person is None or same_person(self.person, person)) and self.purpose in (None, purpose)


class TakeoutPolicy(_Strict):
    """`expectations/takeout-policy.yaml`."""

    timezone: str = Field(default="+09:00", description="the UTC offset the day of a daily limit is counted in")
    default: Limits = Limits()
    rules: list[Rule] = []

    @field_validator("timezone")
    @classmethod
    def _is_anfixed_offset(cls, value: str) -> str:
        fixed_offset(value)
        return value

    @field_validator("rules")
    @classmethod
    def _rules_name_someone(cls, rules: list[Rule]) -> list[Rule]:
        seen: set[tuple[str | None, str | None]] = set()
        for rule in rules:
            if rule.specificity == 0:
                raise ValueError("a rule names a person, a purpose or both (the default is `default`)")
            if (rule.person, rule.purpose) in seen:
                raise ValueError(f"two rules for person {rule.person!r} and purpose {rule.purpose!r}")
            seen.add((rule.person, rule.purpose))
        return rules

    def limits_for(self, person: str, purpose: str) -> Limits:
        """The limits that apply: the most specific matching rule over the default."""
        matching = sorted((r for r in self.rules if r.matches(person, purpose)), key=lambda r: r.specificity)
        merged = self.default.model_dump()
        for rule in matching:  # least specific first, so the most specific is applied last
            merged.update({k: v for k, v in rule.model_dump(exclude={"person", "purpose"}).items() if v is not None})
        return Limits.model_validate(merged)

    def day_of(self, moment: datetime) -> str:
        """The calendar day (ISO) `moment` falls on in the policy's time zone."""
        return moment.astimezone(fixed_offset(self.timezone)).date().isoformat()


def load_policy(expectations_root: Path) -> TakeoutPolicy:
    """The policy file if present, else the defaults (so a fresh install is limited, not unlimited)."""
    from kakunin.contracts import _load_model

    path = expectations_root / POLICY_FILE
    return _load_model(path, TakeoutPolicy) if path.exists() else TakeoutPolicy()


def measure(
    policy: TakeoutPolicy,
    *,
    person: str,
    purpose: str,
    rows: int,
    columns: int,
    at: datetime,
    earlier: Iterable[ExportReceipt],
) -> list[LimitCheck]:
    """Every limit measured for an export of `rows` rows and `columns` columns by `person` at `at`.

    `earlier` is the export register; only the person's exports for the same purpose on the
    same day (the policy's time zone) count.
    """
    limits = policy.limits_for(person, purpose)
    day = policy.day_of(at)
    same_day = [
        r
        for r in earlier
        if same_person(r.requested_by, person) and r.purpose == purpose and policy.day_of(r.created_at) == day
    ]
    measured = {
        "rows_per_day": sum(r.rows for r in same_day) + rows,
        "exports_per_day": len(same_day) + 1,
        "columns": columns,
    }
    return [
        LimitCheck(
            limit=name,
            allowed=getattr(limits, name),
            measured=value,
            exceeded=value > getattr(limits, name),
            on_exceed=limits.on_exceed,
        )
        for name, value in measured.items()
    ]


def refused(checks: list[LimitCheck]) -> bool:
    """Over a limit whose policy says refuse."""
    return any(c.exceeded and c.on_exceed == "refuse" for c in checks)


def alerted(checks: list[LimitCheck]) -> bool:
    """Over a limit the policy allows with an alert (and none that refuses)."""
    return not refused(checks) and any(c.exceeded for c in checks)

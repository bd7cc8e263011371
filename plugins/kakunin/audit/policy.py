"""The daily audit review's policy (監査): `expectations/audit-policy.yaml`, defaults when absent.

Each anomaly rule reads its threshold here, so a reviewer can see (and an engineer change)
what counts as unusual without touching code. The day is the calendar day in `timezone`.
"""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kakunin.clock import fixed_offset
from kakunin.durations import DurationError, parse_duration

POLICY_FILE = "audit-policy.yaml"
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VolumeRule(_Strict):
    factor: Annotated[float, Field(gt=0, description="flag when the day's rows exceed factor × the baseline")] = 3
    baseline_days: Annotated[int, Field(ge=1, le=366, description="the baseline: median of this many days")] = 14
    floor: Annotated[int, Field(ge=0, description="never flag a day of this many rows or fewer")] = 100


class WorkingHours(_Strict):
    start: time = Field(default=time(9, 0), description="exports from this local time on are in hours")
    end: time = Field(default=time(19, 0), description="exports from this local time on are off hours")
    days: list[Weekday] = Field(default=["mon", "tue", "wed", "thu", "fri"], min_length=1)

    @model_validator(mode="after")
    def _start_before_end(self) -> WorkingHours:
        if self.start >= self.end:
            raise ValueError(f"working hours start ({self.start}) must be before they end ({self.end})")
        return self

    def covers(self, local: datetime) -> bool:
        """True when `local` (a time in the policy's zone) is within working hours."""
        return WEEKDAYS[local.weekday()] in self.days and self.start <= local.time() < self.end


class BulkReadRule(_Strict):
    records: Annotated[int, Field(ge=0, description="flag one person reading more records of one dataset")] = 500


class RejectionsRule(_Strict):
    rejections: Annotated[int, Field(ge=0, description="flag more rejected batches of one provider in a day")] = 2


class AuditPolicy(_Strict):
    """`expectations/audit-policy.yaml`."""

    timezone: str = Field(default="+09:00", description="the UTC offset the review's day is counted in")
    sign_off_within: str = Field(default="P3D", description="a report must be signed off within this (ISO 8601)")
    volume: VolumeRule = VolumeRule()
    working_hours: WorkingHours = WorkingHours()
    bulk_read: BulkReadRule = BulkReadRule()
    repeated_rejections: RejectionsRule = RejectionsRule()

    @field_validator("timezone")
    @classmethod
    def _is_an_fixed_offset(cls, value: str) -> str:
        fixed_offset(value)
        return value

    @field_validator("sign_off_within")
    @classmethod
    def _is_a_duration(cls, value: str) -> str:
        try:
            parse_duration(value)
        except DurationError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @property
    def zone(self) -> tzinfo:
        return fixed_offset(self.timezone)

    def day_of(self, moment: datetime) -> date:
        """The calendar day `moment` falls on in the policy's time zone."""
        return moment.astimezone(self.zone).date()

    def due(self, day: date) -> date:
        """The last day a report of `day` may be signed off on."""
        return parse_duration(self.sign_off_within).add_to(day)


def load_policy(expectations_root: Path) -> AuditPolicy:
    """The policy file if present, else the defaults (a fresh install is reviewed, with the defaults)."""
    from kakunin.contracts import _load_model

    path = expectations_root / POLICY_FILE
    return _load_model(path, AuditPolicy) if path.exists() else AuditPolicy()

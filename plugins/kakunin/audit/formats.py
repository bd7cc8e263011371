"""The audit review's documents: the day's report (`kakunin_audit`) and a reviewer's sign-off.

Both live in the audit zone (write-once on S3) and hold user ids, counts, ids and codes,
never personal data. A report is written once per day; a second review of the same day
is a new report (a new id), so a sign-off always names exactly what the reviewer read.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnomalyKind(StrEnum):
    """What the review flags for a person to look at (each a rule with its threshold in the policy)."""

    VOLUME = "volume"  # far more rows read or exported than the person's own baseline
    OFF_HOURS = "off-hours"  # an export outside working hours
    BULK_READ = "bulk-read"  # many records of one dataset read in a day
    REPEATED_REJECTIONS = "repeated-rejections"  # several rejected submissions for one provider
    SELF_APPROVAL = "self-approval"  # an attempt to approve one's own submission
    EXPORT_OVER_LIMIT = "export-over-limit"  # an export refused or alerted over a take-out limit
    UNAUTHENTICATED = "unauthenticated"  # record-level reads by a self-declared actor


class Anomaly(_Doc):
    kind: AnomalyKind
    actor: str
    summary: str = Field(description="one sentence for the reviewer: ids and counts, never personal data")
    entries: list[int] = Field(default=[], description="the audit log sequences it rests on")
    dataset: str | None = None


class PersonDay(_Doc):
    """One person's day: how many entries of each action, and the records they touched."""

    actor: str
    authenticated: bool = Field(description="every entry of theirs that day was vouched for by Airflow")
    actions: dict[str, int]
    records_read: int = 0
    rows_exported: int = 0


class ChainVerdict(_Doc):
    name: str = Field(description="a check of `lineage verify`: chain, seal, manifest, certificate, audit, ...")
    ok: bool
    problems: int = 0


class ReviewReport(_Doc):
    """`audit/reviews/<report_id>.json`: one day's review of the operation log."""

    kind: Literal["kakunin.audit-review/v1"] = "kakunin.audit-review/v1"
    report_id: str
    day: date
    created_at: datetime
    created_by: str
    verified: bool = Field(description="every chain verified intact; false fails the kakunin_audit task")
    chains: list[ChainVerdict]
    entries: int = Field(description="audit entries on the day")
    first_sequence: int | None = None
    last_sequence: int | None = None
    people: list[PersonDay]
    anomalies: list[Anomaly]
    sign_off_due: date = Field(description="the day a reviewer must have signed it off by")
    overdue_sign_offs: list[str] = Field(default=[], description="earlier reports past their due day, unsigned")


class SignOff(_Doc):
    """`audit/sign-offs/<report_id>.json`: a reviewer read the report and says so (written once)."""

    kind: Literal["kakunin.audit-sign-off/v1"] = "kakunin.audit-sign-off/v1"
    report_id: str
    report_sha256: str = Field(description="the report as the reviewer read it")
    signed_by: str
    signed_by_authenticated_by: str | None = None
    signed_at: datetime
    note: str = Field(max_length=2000)

"""The evidence pack's document: `report.json` of `kakunin audit report` (`kakunin.evidence-pack/v1`).

Ids, counts, codes, dates and user ids only; the gathering is `kakunin.audit.pack`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kakunin.lineage.problems import Problem

RECEIPT_HORIZON_DAYS = 90  # receipts whose keep_until falls within this many days after the period's end
UNKNOWN_PROVIDER = "unknown"


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderBatches(_Doc):
    provider: str = Field(description="the provider's corporate number (法人番号), or `unknown`")
    received: int = 0
    accepted: int = 0
    rejected: int = 0
    published: int = 0


class Batches(_Doc):
    """Batches decided in the period, from the audit log's accept, reject and publish entries."""

    received: int = Field(description="batches the provenance gate decided: accepted, or rejected at the gate")
    accepted: int
    rejected: int = Field(description="rejected at any stage (provenance, parse, accuracy)")
    published: int
    rejected_by_stage: dict[str, int]
    by_reason: dict[str, int] = Field(description="reason code → rejected batches carrying it")
    by_provider: list[ProviderBatches]


class MonthRecords(_Doc):
    month: str = Field(description="YYYY-MM")
    published: int = Field(description="records published (manifest headers' counts)")
    purged: int = Field(description="records purged (closed purge certificates' purged_count)")


class ReceiptDue(_Doc):
    dataset: str
    batch_id: str
    keep_until: date


class ExportTally(_Doc):
    key: str
    exports: int
    rows: int


class Exports(_Doc):
    exports: int
    rows: int
    alerted: int = Field(description="released over a limit the policy allows with an alert")
    refused: int = Field(description="export-refused entries in the audit log")
    refused_by_code: dict[str, int]
    by_purpose: list[ExportTally]
    by_person: list[ExportTally] = Field(description="by requested_by (a staff id)")


class HoldLine(_Doc):
    hold_id: str
    scope: str
    dataset: str
    placed_on: date
    placed_by: str
    released_on: date | None = None


class RequestLine(_Doc):
    request_id: str
    request: str
    received_on: date
    due_on: date
    state: Literal["open", "closed"]
    closed_on: date | None = None
    overdue: bool
    closed_late: bool


class ReviewLine(_Doc):
    report_id: str
    day: date
    verified: bool
    anomalies: int
    sign_off_due: date
    signed_by: str | None = None
    signed_on: date | None = None
    overdue: bool = Field(description="unsigned and past its sign-off day when the pack was made")
    signed_late: bool = Field(default=False, description="signed off, but after its sign-off day")


class VerifySummary(_Doc):
    intact: bool
    mode: str
    manifests: int
    certificates: int
    audit_entries: int
    records: int
    problems_by_check: dict[str, int]
    problems: list[Problem]


class EvidencePack(_Doc):
    """`report.json`: the evidence pack of one period (written by `kakunin audit report`)."""

    kind: Literal["kakunin.evidence-pack/v1"] = "kakunin.evidence-pack/v1"
    start: date
    end: date
    timezone: str = Field(description="the zone the period's days are counted in")
    created_at: datetime
    batches: Batches
    months: list[MonthRecords]
    receipts_due: list[ReceiptDue] = Field(description=f"keep_until within {RECEIPT_HORIZON_DAYS} days after end")
    exports: Exports
    holds: list[HoldLine] = Field(description="placed or released in the period, or in force at its end")
    requests: list[RequestLine] = Field(description="received in the period, or still open at its end")
    reviews: list[ReviewLine]
    anomalies_by_kind: dict[str, int]
    verify: VerifySummary

"""The export documents: the receipt in the export register and the manifest's Parquet schema."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from kakunin.lineage.formats import StoredObject

EXPORT_KIND = "kakunin.export/v1"
SOURCE_RECORD_ID = "source_record_id"  # the column every released row carries: the curated record it came from

EXPORT_MANIFEST_SCHEMA = pa.schema(
    [
        pa.field(SOURCE_RECORD_ID, pa.string(), nullable=False),
        pa.field("batch_id", pa.string(), nullable=False),
        pa.field("retention_until", pa.date32(), nullable=False),
    ]
)


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LimitCheck(_Doc):
    """One take-out limit an export was measured against (the policy's value and what the export made it)."""

    limit: Literal["rows_per_day", "exports_per_day", "columns"]
    allowed: int = Field(ge=0)
    measured: int = Field(ge=0, description="the person's count for the day including this export, or its columns")
    exceeded: bool
    on_exceed: Literal["refuse", "alert"]


class ExportReceipt(_Doc):
    """`lineage/exports/<export_id>.json`: one export as released; written once, never changed.

    A later purge, erasure or correction that reaches the export's files is recorded in a
    purge certificate or a correction entry, which names the file's hash before and after.
    """

    kind: Literal["kakunin.export/v1"] = "kakunin.export/v1"
    export_id: str
    dataset: str
    purpose: str
    columns: list[str] = Field(description="the columns released, besides source_record_id")
    requested_by: str = Field(description="the staff id the export was requested for (--requested-by)")
    actor: str = Field(description="who ran it")
    actor_authenticated_by: str | None = Field(
        default=None, description="`airflow` when the actor is an Airflow user (a DAG run); null: self-declared"
    )
    created_at: datetime
    rows: int = Field(ge=0)
    excluded: dict[str, int] = Field(
        default={},
        description="records carrying the purpose but not released, by why: stopped, erasure-requested",
    )
    source_batches: list[str]
    retention_until: date | None = Field(
        description="the latest retention of its rows; each row is kept no longer than its source record"
    )
    data: StoredObject
    manifest: StoredObject
    delivered: StoredObject | None = Field(
        default=None,
        description="the copy handed out (its file name only, never a path, and its SHA-256): outside the store, "
        "it cannot be recalled by a purge, so a certificate lists it for recall",
    )
    limits: list[LimitCheck] = []
    alert: bool = Field(default=False, description="released over a limit the policy allows with an alert")
    schedule: str | None = Field(default=None, description="the scheduled export's name, for exports run by a DAG")

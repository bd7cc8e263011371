"""The lineage formats (lineage-manifest.md): what intake writes and what auditors verify.

These models and the Parquet schema are the contract between the writers (intake,
retention) and the readers (verify, trace, an auditor's DuckDB). Where each document lives
is `kakunin.layout`. Verification imports these, the chain and the store only, never the
code that wrote the records.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from kakunin.lineage.receipts import RECEIPT_KIND as RECEIPT_KIND
from kakunin.lineage.receipts import Receipt as Receipt
from kakunin.lineage.receipts import ReceiptProvider as ReceiptProvider
from kakunin.lineage.receipts import ReceiptV1 as ReceiptV1
from kakunin.lineage.receipts import StoredReceipt as StoredReceipt
from kakunin.lineage.receipts import read_receipt as read_receipt
from kakunin.subjects.formats import IdentifierDigest

MANIFEST_KIND = "kakunin.manifest/v1"

# Column names shared by intake's work files, the manifest and the curated files.
RECORD_ID = "record_id"
SOURCE_ROW = "_source_row"  # the data row's 1-based line in the source file (work files; `source_row` in the manifest)
RETENTION_UNTIL = "retention_until"
RETENTION_FALLBACK = "retention_fallback"
RETENTION_CLAMPED = "retention_clamped"
RECORD_DIGEST = "record_digest"
SUBJECT_DIGEST = "subject_digest"
CLIENT = "client"  # entrusted data (委託): the client's legal name
RETURN_BY = "return_by"  # entrusted data: the date it goes back to the client, at the latest
ENTRUSTED_PROCESSING = "entrusted_processing"  # the purpose only datasets of entrusted data allow

MANIFEST_SCHEMA = pa.schema(
    [
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("batch_id", pa.string(), nullable=False),
        pa.field("source_file_sha256", pa.string(), nullable=False),
        pa.field("source_row", pa.int64(), nullable=False),
        pa.field("provenance_document_id", pa.string(), nullable=False),
        pa.field("provenance_sha256", pa.string(), nullable=False),
        pa.field("purposes", pa.list_(pa.string()), nullable=False),
        pa.field("legal_ground", pa.string(), nullable=False),
        pa.field("received_on", pa.date32(), nullable=False),
        pa.field("retention_until", pa.date32(), nullable=False),
        pa.field("record_digest", pa.string(), nullable=False),
        pa.field("subject_digest", pa.string(), nullable=False),
        pa.field("curated_file", pa.string(), nullable=False),
        pa.field("validation_run_id", pa.string(), nullable=False),
        pa.field("retention_clock", pa.string(), nullable=False),
        # entrusted data (委託, ground entrustment): the client's legal name and the date the data goes back
        # to it; null for every other ground, and absent from manifests written before provenance v2
        pa.field(CLIENT, pa.string(), nullable=True),
        pa.field(RETURN_BY, pa.date32(), nullable=True),
    ]
)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class StoredObject(_Record):
    """An object in the store with the hash it had when written."""

    key: str
    sha256: str
    rows: int | None = None


class Counts(_Record):
    received: int
    published: int
    quarantined: int
    parse_failed: int = 0
    erased: int = Field(
        default=0,
        description="rows dropped because their person asked to be erased (subject.erased): neither published nor "
        "quarantined; received = published + quarantined + erased",
    )


class Overlap(_Record):
    """The leaked-copy signal of a batch: its rows whose email or phone we already hold from another provider."""

    rows: int = Field(ge=0, description="rows with an email or phone digest of a record held from another provider")
    considered: int = Field(ge=0, description="the batch's rows less the erased ones: the ratio's denominator")
    ratio: float = Field(ge=0, description="rows / considered (0 when nothing was considered)")
    providers: int = Field(ge=0, description="how many other providers those records came from")
    max_ratio: float = Field(description="the contract's max_overlap_ratio at intake; above it the batch is rejected")


class RuleResult(_Record):
    rule: str
    unexpected: int
    success: bool


class GxSummary(_Record):
    """The accuracy suite's result over the whole batch (counts only)."""

    suite: str
    validation_run_id: str
    success: bool
    evaluated_expectations: int
    successful_expectations: int
    rules: list[RuleResult]
    data_docs: str | None = None


class ManifestHeader(_Record):
    """manifest.json: the header of one published batch, a link in the manifest chain."""

    kind: Literal["kakunin.manifest/v1"] = "kakunin.manifest/v1"
    manifest_id: str
    sequence: int
    dataset: str
    batch_id: str
    created_at: datetime
    dag_run_id: str | None
    code_version: str
    counts: Counts
    retention_clock_fallbacks: int
    retention_clamped: int = Field(
        default=0,
        description="records whose retention clock would keep them past the contract's max_retention, "
        "kept until received_on + max_retention instead",
    )
    manifest_parquet_sha256: str
    curated_files: list[StoredObject]
    provenance_document_id: str
    provenance_document: StoredObject
    source_file_sha256: str
    receipt: StoredObject
    receipt_keep_until: date
    gx: GxSummary
    previous: str | None
    evidence_index: StoredObject | None = Field(
        default=None,
        description="the evidence index (provenance/<document_id>/evidence.json) as the gate wrote it; every file "
        "it lists is kept under its content key (evidence/<sha256>). Absent in headers written before evidence "
        "was sealed.",
    )
    commit: StoredObject | None = Field(
        default=None,
        description="the batch's commit record (curated/<dataset>/_commits/<batch_id>.json) as written at "
        "publish. Absent in headers written before commit records were sealed.",
    )
    subject_index: StoredObject | None = Field(
        default=None,
        description="the batch's subject index (subjects/index/<dataset>/<batch_id>.parquet: keyed identifier "
        "digests → record ids) as published; a purge or correction rewrites it later. Absent when the dataset "
        "declares no identifiers, and in headers written before the subject index.",
    )
    overlap: Overlap | None = Field(
        default=None,
        description="the leaked-copy signal (intake.overlap) at or below the contract's max_overlap_ratio. Absent "
        "when the dataset declares no identifiers, and in headers written before the signal.",
    )


class EvidenceIndexEntry(_Record):
    """One line of `provenance/<document_id>/evidence.json`: an evidence file the document named."""

    id: str
    kind: str
    file: str = Field(description="the name the submitter gave the file (kept for people, never a store key)")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="its content hash, which is also its store name")


class ChainLink(_Record):
    """lineage/chain/<sequence>.json: orders the manifest headers and pins each one's hash."""

    sequence: int
    previous: str | None
    header_key: str
    header_sha256: str
    mac: str | None = Field(
        default=None,
        description="kakunin.seal/v1:<hex>: HMAC-SHA256 of this entry without `mac` under a key derived from "
        "KAKUNIN_HMAC_KEY (lineage/seal.py); absent when written without the key",
    )


class Commit(_Record):
    """curated/<dataset>/_commits/<batch_id>.json: the batch's files are part of the table from here on."""

    dataset: str
    batch_id: str
    committed_at: datetime
    files: list[StoredObject]


class AuditAction(StrEnum):
    """What an audit entry records; the values are the `action` strings in the log."""

    ACCEPT = "accept"  # a batch passed the provenance gate
    REJECT = "reject"  # a batch went to quarantine
    PUBLISH = "publish"  # a batch's records were published, with its manifest
    PURGE_OPEN = "purge-open"  # a purge certificate was opened (the plan is fixed)
    PURGE = "purge"  # a purge certificate was closed (the records are gone)
    HOLD = "hold"  # a legal hold was placed
    RELEASE_HOLD = "release-hold"  # a legal hold was released
    ERASURE_REQUEST = "erasure-request"  # a data subject asked for erasure
    TRACE = "trace"  # someone traced a record
    VERIFY = "verify"  # someone verified the lineage
    DISPOSE = "dispose"  # a rejected batch's copies outside the store were returned or deleted
    SUBJECT_REINDEX = "subject-reindex"  # a batch's subject index was written from its live curated records
    CORRECT = "correct"  # a curated record was corrected (訂正): its id and the columns, never the values
    SUBJECT_FIND = "subject-find"  # someone looked up a person's records (record ids, never identifiers)
    SUBJECT_REQUEST = "subject-request"  # a data subject's request was registered or closed
    SUBJECT_DISCLOSE = "subject-disclose"  # a person's data was written out for them (開示)
    STOP_USE = "stop-use"  # use of a person's records stopped (利用停止)
    RESUME_USE = "resume-use"  # a stop was lifted
    SUBMIT = "submit"  # a batch was submitted to landing (the submitter's user id)
    APPROVE = "approve"  # a second user approved a submitted batch (four eyes)
    APPROVE_REFUSED = "approve-refused"  # an approval refused: the approver is the submitter
    EXPORT = "export"  # records were released for a purpose (counts, columns, limits; never values)
    EXPORT_REFUSED = "export-refused"  # an export was refused (reason codes), nothing written
    AUDIT_REVIEW = "audit-review"  # the day's review report was written (kakunin_audit)
    AUDIT_SIGN_OFF = "audit-sign-off"  # a reviewer signed a review report off
    AUDIT_REPORT = "audit-report"  # an evidence pack was written
    READ = "read"  # record-level data was shown (a web page, an API answer)
    TRIGGER = "trigger"  # someone started a kakunin_intake run from the web app (the run's id in detail)


class AuditEntry(_Record):
    """One entry of the operation log: who did what, when, to which batch or records."""

    sequence: int
    at: datetime
    actor: str
    actor_authenticated_by: str | None = Field(
        default=None,
        description="who vouches for `actor`: `airflow` when it is the Airflow user of a DAG run or a web "
        "session; null when the actor is self-declared (KAKUNIN_ACTOR or the operating-system user)",
    )
    action: str  # an `AuditAction` value; kept a string so a reader also accepts actions added later
    dataset: str | None = None
    batch_id: str | None = None
    document_id: str | None = None
    record_ids: list[str] = []
    codes: list[str] = []
    detail: dict[str, str | int | float | bool | None] = {}
    previous: str | None
    mac: str | None = Field(
        default=None,
        description="kakunin.seal/v1:<hex>: HMAC-SHA256 of this entry without `mac` under a key derived from "
        "KAKUNIN_HMAC_KEY (lineage/seal.py); absent when written without the key",
    )


# ── retention (purge certificates, holds, erasure requests) ─────────────────────────

PURGED_RECORDS_SCHEMA = pa.schema(
    [
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("batch_id", pa.string(), nullable=False),
        pa.field("curated_file", pa.string(), nullable=False),
        pa.field("retention_until", pa.date32(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
    ]
)


class FileAction(_Record):
    """One curated file destroyed or rewritten by a purge, with its hash before and after."""

    key: str
    action: Literal["delete", "rewrite"]
    method: str
    sha256_before: str
    sha256_after: str | None = None
    records_removed: int
    records_kept: int
    versions_removed: list[str] = Field(
        default=[], description="store version ids destroyed (S3: every version of the file before the purge)"
    )


class ExportRecall(_Record):
    """A copy of an export handed out (outside the store) that holds a purged or corrected record.

    Kakunin cannot reach it: the certificate or correction names it for the requester to delete.
    """

    export_id: str
    file: str = Field(description="the delivered file's name as the export receipt gives it (never a path)")
    sha256: str = Field(description="the delivered file's SHA-256, as released")
    records: int = Field(description="how many of its rows the purge removed (or the correction changed) in the store")


class RemovedObject(_Record):
    """A quarantine file or receipt record removed by a purge."""

    key: str
    sha256_before: str
    reason: str
    versions_removed: list[str] = Field(default=[], description="store version ids destroyed (S3)")


class Retained(_Record):
    """Records that would have been purged but are kept, and why."""

    hold_id: str
    scope: str
    target: str
    reason: str
    records: int


class ReplannedFile(_Record):
    """A curated file an open certificate planned to purge, but found changed when the purge came to it.

    Nothing in it was destroyed under this certificate; the next plan (in the same run)
    reads its current content and purges what is still due.
    """

    key: str
    sha256_planned: str
    sha256_found: str
    records_planned: int
    reason: str


class BatchPurge(_Record):
    dataset: str
    batch_id: str
    provenance_document_id: str | None
    records: int


class Certificate(_Record):
    """A purge certificate: written open before anything is destroyed, closed after."""

    kind: Literal["kakunin.purge-certificate/v1"] = "kakunin.purge-certificate/v1"
    run_id: str
    status: Literal["open", "closed"]
    as_of: date
    actor: str
    opened_at: datetime
    closed_at: datetime | None = None
    policy: list[str]
    records: StoredObject
    purged_count: int
    batches: list[BatchPurge]
    files: list[FileAction]
    retained: list[Retained]
    quarantine_removed: list[RemovedObject]
    receipts_removed: list[RemovedObject]
    erasure_requests: list[str]
    replanned: list[ReplannedFile] = Field(
        default=[], description="files found changed since the plan: left untouched, re-planned by the next plan"
    )
    planned_records: StoredObject | None = Field(
        default=None,
        description="when the purge differs from the open certificate's plan (a file re-planned, a record held "
        "since), the plan's record list; `records` then lists what was actually purged",
    )
    future_as_of: bool = Field(
        default=False,
        description="the as-of date was after the day the run started, explicitly allowed (--allow-future-as-of)",
    )
    subject_index: list[FileAction] = Field(
        default=[],
        description="subject index files (subjects/index/<dataset>/<batch_id>.parquet) the purge rewrote without "
        "the purged records' rows, or deleted when none was left; records_removed/records_kept count record ids",
    )
    exports: list[FileAction] = Field(
        default=[],
        description="files of exports held in the store (exports/<dataset>/<export_id>/data.parquet and "
        "manifest.parquet) rewritten without the rows of purged records or rows past their own retention_until, "
        "or deleted when none was left; records_removed/records_kept count rows",
    )
    exports_recall: list[ExportRecall] = Field(
        default=[],
        description="delivered copies of those exports, outside the store: they held purged records and cannot "
        "be recalled by Kakunin, so the requester must delete them",
    )


class CertificateLink(_Record):
    """lineage/certificates/chain/<sequence>.json: orders the closed certificates."""

    sequence: int
    previous: str | None
    certificate_key: str
    certificate_sha256: str
    mac: str | None = Field(
        default=None,
        description="kakunin.seal/v1:<hex>: HMAC-SHA256 of this entry without `mac` under a key derived from "
        "KAKUNIN_HMAC_KEY (lineage/seal.py); absent when written without the key",
    )


class Hold(_Record):
    """A legal hold: records under it are never purged while it stands."""

    hold_id: str
    scope: Literal["dataset", "batch", "record"]
    dataset: str
    target: str
    reason: str
    placed_by: str
    placed_at: datetime


class HoldRelease(_Record):
    hold_id: str
    reason: str
    released_by: str
    released_at: datetime


class ErasureRequest(_Record):
    """A data subject's erasure request (APPI Art. 35, GDPR Art. 17); the key itself is never stored."""

    request_id: str
    dataset: str | None = Field(description="the one dataset it reaches; null: every dataset (by identifier)")
    subject_digest: str | None = Field(
        default=None, description="the subject key's digest (--subject-key, within `dataset`); null when not given"
    )
    reason: str
    requested_by: str
    requested_at: datetime
    identifiers: list[IdentifierDigest] = Field(
        default=[], description="the keyed digests of the identifiers the person gave, reached through the index"
    )
    record_ids: list[str] = Field(default=[], description="the records it reached when it was received")


LAST_DAY = date.max


def _last_day() -> pa.Scalar:
    """LAST_DAY as a date32 scalar, built from its day number: `pa.scalar(date)` imports pandas, half a second
    of a `lineage trace` process."""
    days = (LAST_DAY - date(1970, 1, 1)).days
    return pa.Array.from_buffers(pa.date32(), 1, [None, pa.py_buffer(days.to_bytes(4, "little"))])[0]


def readable_dates(table: pa.Table, column: str) -> pa.Table:
    """`table` with `column` (date32) capped at 9999-12-31, so it converts to Python dates.

    Records published before retention was clamped per record could carry a year past
    9999; Arrow stores it, but `date` cannot hold it. Readers show the calendar's last day.
    A date32 column without nulls is capped through a numpy view of its day numbers (trace reads
    one row: `pyarrow.compute` would cost its import, ~50 ms); any other by `pc.min_element_wise`.
    """
    index = table.schema.get_field_index(column)
    if index < 0:
        return table
    values = table.column(column)
    if values.type != pa.date32() or values.null_count:
        import pyarrow.compute as pc

        capped = pc.min_element_wise(values, _last_day())
    else:
        capped = pa.chunked_array([_capped_days(chunk) for chunk in values.chunks], pa.date32())
    return table.set_column(index, table.schema.field(index), capped)


def _capped_days(chunk: pa.Array) -> pa.Array:
    """A date32 chunk without nulls with every day after LAST_DAY made LAST_DAY (the chunk itself if none is)."""
    if not len(chunk):
        return chunk  # (its data buffer may be absent)
    last = (LAST_DAY - date(1970, 1, 1)).days
    days = np.frombuffer(chunk.buffers()[1], np.int32, len(chunk), chunk.offset * 4)
    if int(days.max()) <= last:
        return chunk
    capped = np.minimum(days, np.int32(last))
    return pa.Array.from_buffers(pa.date32(), len(capped), [None, pa.py_buffer(capped)])

"""The six intake steps for one batch: gate, parse, accuracy, assign, publish, lineage.

Each step is a function of (batch, context) that reads what the previous step left
under `work/<dataset>/<batch_id>/` and leaves its own output there, so the steps can run
as separate Airflow tasks (tasks pass batch references, never data) or one after the
other from the CLI. Every step is idempotent: a step whose output exists does nothing,
so a retried task or a re-run repairs a batch that stopped midway, and publishing the
same batch twice writes the same files under the same names.

A batch rejected at any step is moved whole to `quarantine/<dataset>/<batch_id>/` with
`rejection.json`, and the later steps skip it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel

from kakunin import audit, leases
from kakunin.batches import (
    REJECTION_FILE,
    SUBMISSION_FILE,
    Rejection,
    StoredFile,
    Submission,
    is_batch_id,
    materialised,
)
from kakunin.codes import ReasonCode
from kakunin.contracts import IDENTIFIER, DatasetContract, Registry
from kakunin.durations import parse_duration
from kakunin.errors import ConfigError, InputError, KakuninError, StorageError
from kakunin.hashing import sha256_bytes, sha256_file
from kakunin.intake.conform import (
    PARSE_FAILURES,
    SOURCE_ROW,
    ParseError,
    conform_chunk,
    conformed_schema,
    read_row_groups,
)
from kakunin.intake.encoding import detect_encoding
from kakunin.lineage.formats import AuditAction, commit_key, manifest_prefix
from kakunin.provenance.document import DOCUMENT_NAMES, judge, read_document
from kakunin.provenance.evidence import normalise_evidence_path
from kakunin.provenance.findings import Finding
from kakunin.provenance.model import ProvenanceDocument
from kakunin.storage import ObjectStore, check_key, delete_prefix, object_sha256
from kakunin.yaml_io import dump_json, json_bytes, json_text

log = logging.getLogger(__name__)

RECORD_ID = "record_id"
RETENTION_UNTIL = "retention_until"
RETENTION_FALLBACK = "retention_fallback"
RETENTION_CLAMPED = "retention_clamped"
RECORD_DIGEST = "record_digest"
SUBJECT_DIGEST = "subject_digest"
LINEAGE_COLUMNS = pa.schema(
    [
        pa.field(RECORD_ID, pa.string()),
        pa.field(SOURCE_ROW, pa.int64()),
        pa.field(RETENTION_UNTIL, pa.date32()),
        pa.field(RETENTION_FALLBACK, pa.bool_()),
        pa.field(RETENTION_CLAMPED, pa.bool_()),
        pa.field(RECORD_DIGEST, pa.string()),
        pa.field(SUBJECT_DIGEST, pa.string()),
    ]
)
WORK_COMPRESSION = "snappy"
CURATED_COMPRESSION = "zstd"


class StepStatus(StrEnum):
    """How a step ended; the values are what `--json` and the logs show."""

    DONE = "done"
    ALREADY_DONE = "already done"  # a rerun found the step's work durable
    REJECTED = "rejected"  # the batch went to quarantine at this step
    SKIPPED = "skipped (rejected earlier)"  # an earlier step rejected the batch; nothing to do


@dataclass(frozen=True)
class BatchRef:
    """A batch, named `<dataset>/<batch_id>` where a string must carry it (DAG task arguments)."""

    dataset: str
    batch_id: str

    @classmethod
    def parse(cls, text: str) -> BatchRef:
        dataset, _, batch_id = text.partition("/")
        if not re.fullmatch(IDENTIFIER, dataset) or not is_batch_id(batch_id):
            raise InputError(f"{text!r} is not a batch reference (<dataset>/<batch_id>)")
        return cls(dataset, batch_id)

    def __str__(self) -> str:
        return f"{self.dataset}/{self.batch_id}"

    def landing(self, name: str = "") -> str:
        return f"landing/{self.dataset}/{self.batch_id}/{name}".rstrip("/")

    def work(self, name: str = "") -> str:
        return f"work/{self.dataset}/{self.batch_id}/{name}".rstrip("/")

    def quarantine(self, name: str = "") -> str:
        return f"quarantine/{self.dataset}/{self.batch_id}/{name}".rstrip("/")


@dataclass
class IntakeContext:
    """What the steps need from outside: the store, contracts, the clock and the key."""

    store: ObjectStore
    registry: Registry
    today: date
    now: Callable[[], datetime]
    hmac_key: bytes | None = None
    actor: str | None = None
    dag_run_id: str | None = None
    chunk_rows: int = 250_000
    block_bytes: int = 2 << 20
    code_version: str = "dev"
    owner: str = field(default_factory=leases.new_owner)
    lease_ttl: timedelta = leases.DEFAULT_TTL
    lease: leases.Lease | None = None  # the batch's lease, while a runner holds it
    fail_after: set[str] = field(default_factory=set)  # test hook: raise after these steps' work


class StepOutcome(BaseModel):
    batch: str
    step: str
    status: StepStatus
    detail: str = ""


class GateRecord(BaseModel):
    document: dict[str, Any]
    document_sha256: str
    document_file: str
    data_file: str
    findings: list[Finding]
    provenance_prefix: str


class ParseRecord(BaseModel):
    encoding: str
    rows: int
    source_sha256: str
    parse_failed_rows: int


class InjectedFailure(RuntimeError):
    """Raised by the `fail_after` test hook to simulate a crash between steps."""


class BatchBusy(KakuninError):
    """Another worker holds the batch's lease: it is working on the batch now."""

    code = "busy"


def lease_name(ref: BatchRef) -> str:
    return f"intake/{ref.dataset}/{ref.batch_id}"


def holding_lease(ref: BatchRef, ctx: IntakeContext) -> leases.Lease:
    """Take the batch's lease for this worker; `BatchBusy` if another worker holds it."""
    lease = leases.acquire(ctx.store, lease_name(ref), owner=ctx.owner, now=ctx.now, ttl=ctx.lease_ttl)
    if lease is None:
        holder = leases.read(ctx.store, lease_name(ref))
        raise BatchBusy(f"batch {ref} is being worked on by {holder.owner if holder else 'another worker'}")
    return lease


def run_step(name: str, ref: BatchRef, ctx: IntakeContext) -> StepOutcome:
    """One step under the batch's lease (what a DAG task calls). A finished batch's released lease
    is removed by the next run's leftover sweep, never here: another worker may be taking it."""
    step = dict(STEPS)[name]
    with holding_lease(ref, ctx) as lease:
        return step(ref, replace(ctx, lease=lease))


def _renew(ctx: IntakeContext) -> None:
    """Before a write another worker must not interleave with: make sure the lease is still ours."""
    if ctx.lease is not None:
        ctx.lease.renew()


def header_key(ref: BatchRef) -> str:
    return f"{manifest_prefix(ref.dataset, ref.batch_id)}/manifest.json"


def is_finished(ref: BatchRef, store: ObjectStore) -> bool:
    """Whether nothing is left to do for the batch: no submission in landing, no work files."""
    return not store.exists(ref.landing(SUBMISSION_FILE)) and not any(True for _ in store.list_keys(ref.work() + "/"))


def find_pending(store: ObjectStore) -> list[BatchRef]:
    """Every batch in landing that was submitted completely, oldest first."""
    refs = []
    for key in store.list_keys("landing/"):
        parts = key.split("/")
        if len(parts) == 4 and parts[3] == SUBMISSION_FILE:
            refs.append(BatchRef(parts[1], parts[2]))
    return sorted(refs, key=lambda r: r.batch_id)


def is_rejected(ref: BatchRef, store: ObjectStore) -> bool:
    return store.exists(ref.quarantine(REJECTION_FILE))


def _load(store: ObjectStore, key: str, model: type[Any]) -> Any:
    return model.model_validate_json(store.get_bytes(key))


def _contract(ctx: IntakeContext, ref: BatchRef) -> DatasetContract:
    contract = ctx.registry.contract(ref.dataset)
    if contract is None:
        raise ConfigError(f"dataset {ref.dataset} has no contract in {ctx.registry.root}")
    return contract


def _maybe_fail(ctx: IntakeContext, step: str) -> None:
    if step in ctx.fail_after:
        raise InjectedFailure(f"injected failure after {step}")


def reject(
    ref: BatchRef,
    ctx: IntakeContext,
    *,
    stage: Literal["provenance", "parse", "accuracy"],
    findings: list[Finding],
    document_id: str | None,
    document_sha256: str | None,
    failed_rows: pa.Table | None = None,
) -> None:
    """Move the whole batch to quarantine with its findings; nothing of it is published.

    The decision is written first and the files moved after, `_submission.json` last, so a
    crash midway leaves a batch that is already rejected and whose move any later step
    finishes (`finish_rejection`).
    """
    store = ctx.store
    _renew(ctx)
    audit.prepare_once(store, _audit_marker(ref, AuditAction.REJECT))
    if failed_rows is not None and failed_rows.num_rows:
        with store.writing(ref.quarantine("failed_rows.parquet")) as path:
            pq.write_table(failed_rows, path, compression=CURATED_COMPRESSION)
    rejection = Rejection(
        batch_id=ref.batch_id,
        dataset=ref.dataset,
        document_id=document_id,
        document_sha256=document_sha256,
        stage=stage,
        rejected_at=ctx.now(),
        findings=findings,
    )
    store.put_bytes(ref.quarantine(REJECTION_FILE), dump_json(rejection))
    _maybe_fail(ctx, "rejection-written")
    finish_rejection(ref, ctx)
    log.info("batch %s rejected at %s: %s", ref, stage, ", ".join(sorted({f.code.value for f in findings})))


def _audit_marker(ref: BatchRef, action: AuditAction) -> str:
    return ref.work(f"audit-{action}.json")


def finish_rejection(ref: BatchRef, ctx: IntakeContext) -> None:
    """Log the rejection (once), clear the work files, move what is left from landing to quarantine.

    Every part is idempotent, so a rerun after a crash anywhere in here finishes it.
    """
    store = ctx.store
    rejection = Rejection.model_validate_json(store.get_bytes(ref.quarantine(REJECTION_FILE)))
    audit.record_once(
        store,
        AuditAction.REJECT,
        marker_key=_audit_marker(ref, AuditAction.REJECT),
        at=ctx.now(),
        actor=ctx.actor,
        dataset=ref.dataset,
        batch_id=ref.batch_id,
        document_id=rejection.document_id,
        codes=sorted({f.code.value for f in rejection.findings}),
        detail={"stage": rejection.stage},
    )
    delete_prefix(store, ref.work() + "/")
    keys = list(store.list_keys(ref.landing() + "/"))
    submission = ref.landing(SUBMISSION_FILE)
    for key in [k for k in keys if k != submission] + [k for k in keys if k == submission]:
        store.rename(key, ref.quarantine(key[len(ref.landing()) + 1 :]))
    delete_prefix(store, ref.landing() + "/")


def clear_published(ref: BatchRef, ctx: IntakeContext) -> None:
    """After lineage: log the publication (once), remove stray staged files, then work files, then
    landing with `_submission.json` last (so a crash anywhere here is finished by a rerun)."""
    store = ctx.store
    _audit_publish(ref, ctx)
    remove_staged(ref, store)
    delete_prefix(store, ref.work() + "/")
    submission = ref.landing(SUBMISSION_FILE)
    for key in list(store.list_keys(ref.landing() + "/")):
        if key != submission:
            store.delete(key)
    delete_prefix(store, ref.landing() + "/")


def _skip(ref: BatchRef, ctx: IntakeContext, step: str, done_key: str) -> StepOutcome | None:
    """The outcome of a step that has nothing to do, judged by the batch's furthest durable state.

    A later state means this step is done even if its own output was already cleared away:
    a published batch whose cleanup was cut short is never gated, parsed or rejected again.
    """
    store = ctx.store
    if is_rejected(ref, store):
        finish_rejection(ref, ctx)
        return StepOutcome(batch=str(ref), step=step, status=StepStatus.SKIPPED)
    committed = step != "publish" and store.exists(commit_key(ref.dataset, ref.batch_id))
    if committed or _is_linked(store, header_key(ref)):
        return StepOutcome(batch=str(ref), step=step, status=StepStatus.ALREADY_DONE)
    if store.exists(done_key):
        if step == "gate":
            _audit_accept(ref, ctx)
        return StepOutcome(batch=str(ref), step=step, status=StepStatus.ALREADY_DONE)
    return None


# 1 ── provenance gate ─────────────────────────────────────────────────────────────


def gate(ref: BatchRef, ctx: IntakeContext) -> StepOutcome:
    """Re-check the landed batch: files unchanged since submission, document still acceptable."""
    if (skipped := _skip(ref, ctx, "gate", ref.work("gate.json"))) is not None:
        return skipped
    store = ctx.store
    submission: Submission = _load(store, ref.landing(SUBMISSION_FILE), Submission)
    tampered = [
        Finding.of(
            ReasonCode.LANDING_TAMPERED,
            stored.path,
            f"{stored.path} changed or disappeared in landing after it was submitted",
        )
        for stored in submission.files
        if not _landed_unchanged(store, ref, stored)
    ]
    with materialised(store, ref.landing(), submission) as folder:
        document_file = submission.document_file
        safe = document_file in DOCUMENT_NAMES and (folder / document_file).is_file()
        parsed = read_document(folder / document_file if safe else None)
        verdict = judge(parsed, batch_dir=folder, registry=ctx.registry, today=ctx.today)
    findings = tampered + verdict.findings
    if tampered or not verdict.accepted or parsed.document is None:
        reject(
            ref,
            ctx,
            stage="provenance",
            findings=findings,
            document_id=submission.document_id,
            document_sha256=submission.document_sha256,
        )
        return StepOutcome(
            batch=str(ref), step="gate", status=StepStatus.REJECTED, detail=", ".join(verdict.error_codes)
        )
    document = parsed.document
    prefix = f"provenance/{document.document_id}"
    store.put_bytes(f"{prefix}/{document_file}", store.get_bytes(ref.landing(document_file)))
    by_name = {f.path: f for f in submission.files}
    index = []
    for entry in document.evidence:
        stored = by_name[normalise_evidence_path(entry.file) or ""]  # the judge found it among these files
        with store.reading(ref.landing(stored.landing_name)) as source:
            store.put_file(f"{prefix}/evidence/{stored.sha256}", source)
        index.append({"id": entry.id, "kind": entry.kind.value, "file": entry.file, "sha256": stored.sha256})
    store.put_bytes(f"{prefix}/evidence.json", json_bytes(index))
    record = GateRecord(
        document=document.model_dump(mode="json", by_alias=True),
        document_sha256=submission.document_sha256,
        document_file=submission.document_file,
        data_file=submission.data_file,
        findings=verdict.findings,
        provenance_prefix=prefix,
    )
    audit.prepare_once(store, _audit_marker(ref, AuditAction.ACCEPT))
    store.put_bytes(ref.work("gate.json"), dump_json(record))
    _audit_accept(ref, ctx)
    _maybe_fail(ctx, "gate")
    return StepOutcome(batch=str(ref), step="gate", status=StepStatus.DONE, detail="accepted")


def _audit_accept(ref: BatchRef, ctx: IntakeContext) -> None:
    record, document = _gate_record(ref, ctx)
    audit.record_once(
        ctx.store,
        AuditAction.ACCEPT,
        marker_key=_audit_marker(ref, AuditAction.ACCEPT),
        at=ctx.now(),
        actor=ctx.actor,
        dataset=ref.dataset,
        batch_id=ref.batch_id,
        document_id=document.document_id,
        codes=list(dict.fromkeys(f.code.value for f in record.findings if f.severity == "warning")),
        detail={"stage": "provenance"},
    )


def _landed_unchanged(store: ObjectStore, ref: BatchRef, stored: StoredFile) -> bool:
    """Whether the landed object behind `stored` exists with the hash it was submitted with."""
    try:
        key = check_key(ref.landing(stored.landing_name))
        return store.exists(key) and object_sha256(store, key) == stored.sha256
    except StorageError:
        return False  # a name no submit writes: _submission.json itself was edited


def _gate_record(ref: BatchRef, ctx: IntakeContext) -> tuple[GateRecord, ProvenanceDocument]:
    record: GateRecord = _load(ctx.store, ref.work("gate.json"), GateRecord)
    return record, ProvenanceDocument.model_validate(record.document)


# 2 ── parse and conform ───────────────────────────────────────────────────────────


def parse(ref: BatchRef, ctx: IntakeContext) -> StepOutcome:
    """Decode strictly in the contract's first matching encoding and type every column, in chunks."""
    if (skipped := _skip(ref, ctx, "parse", ref.work("parse.json"))) is not None:
        return skipped
    store = ctx.store
    record, document = _gate_record(ref, ctx)
    contract = _contract(ctx, ref)

    def fail(code: ReasonCode, message: str) -> StepOutcome:
        reject(
            ref,
            ctx,
            stage="parse",
            findings=[Finding.of(code, record.data_file, message)],
            document_id=document.document_id,
            document_sha256=record.document_sha256,
        )
        return StepOutcome(batch=str(ref), step="parse", status=StepStatus.REJECTED, detail=code.value)

    if record.data_file != f"data.{contract.format.type}":
        return fail(ReasonCode.PARSE_SCHEMA, f"dataset {contract.dataset} takes data.{contract.format.type}")
    with store.reading(ref.landing(record.data_file)) as source:
        detection = detect_encoding(source, contract.encodings)
        if detection.encoding is None:
            return fail(ReasonCode.PARSE_ENCODING, detection.reason)
        encoding = detection.encoding
        source_sha256 = sha256_file(source)
        rows = parse_failed = 0
        try:
            with (
                store.writing(ref.work("conformed.parquet")) as out,
                pq.ParquetWriter(out, conformed_schema(contract), compression=WORK_COMPRESSION) as writer,
            ):
                for chunk in read_row_groups(
                    source, contract, encoding, rows=ctx.chunk_rows, block_bytes=ctx.block_bytes
                ):
                    _renew(ctx)  # a long file must not outlive the lease
                    conformed = conform_chunk(chunk, contract, first_row=rows + 1)
                    parse_failed += (
                        conformed.num_rows
                        - pc.sum(pc.equal(pc.list_value_length(conformed.column(PARSE_FAILURES)), 0)).as_py()
                    )
                    rows += conformed.num_rows
                    writer.write_batch(conformed)
        except ParseError as exc:
            return fail(exc.code, exc.message)
    if rows == 0:
        return fail(ReasonCode.PARSE_SCHEMA, "the file has a header but no rows")
    parsed = ParseRecord(encoding=encoding, rows=rows, source_sha256=source_sha256, parse_failed_rows=parse_failed)
    store.put_bytes(ref.work("parse.json"), dump_json(parsed))
    _maybe_fail(ctx, "parse")
    return StepOutcome(batch=str(ref), step="parse", status=StepStatus.DONE, detail=f"{rows} rows in {encoding}")


# 3 ── accuracy ────────────────────────────────────────────────────────────────────


def accuracy(ref: BatchRef, ctx: IntakeContext) -> StepOutcome:
    """Run the dataset's GX suite; reject the batch whole above `max_failed_row_ratio`."""
    if (skipped := _skip(ref, ctx, "accuracy", ref.work("accuracy.json"))) is not None:
        return skipped
    from kakunin.intake import accuracy as checks

    store = ctx.store
    record, document = _gate_record(ref, ctx)
    contract = _contract(ctx, ref)
    if contract.suite is None:
        raise ConfigError(f"dataset {contract.dataset} names no accuracy suite in its contract")
    suite_path = ctx.registry.root / contract.dataset / contract.suite
    with store.reading(ref.work("conformed.parquet")) as conformed:
        failures, summary, runner = checks.evaluate(
            conformed,
            suite_path=suite_path,
            received_on=document.received_on,
            max_failed_row_ratio=contract.max_failed_row_ratio,
            run_name=ref.batch_id,
            chunk_rows=ctx.chunk_rows,
        )
        docs = checks.build_data_docs(runner, summary, batch_id=ref.batch_id)
        if docs is not None:
            docs_prefix = f"reports/gx/{ref.dataset}/{ref.batch_id}"
            for path in sorted(p for p in docs.rglob("*") if p.is_file()):
                store.put_file(f"{docs_prefix}/{path.relative_to(docs).as_posix()}", path)
            checks.remove_tree(docs)
            summary = summary.model_copy(update={"data_docs": f"{docs_prefix}/index.html"})
        if summary.rejected:
            failed = _failed_rows(conformed, failures, ctx.chunk_rows)
            message = (
                f"{summary.failed_rows} of {summary.rows} rows ({summary.failed_ratio:.2%}) failed the accuracy "
                f"suite; the contract allows at most {contract.max_failed_row_ratio:.2%} (正確性の確保)"
            )
            reject(
                ref,
                ctx,
                stage="accuracy",
                findings=[Finding.of(ReasonCode.ACCURACY_THRESHOLD, record.data_file, message)],
                document_id=document.document_id,
                document_sha256=record.document_sha256,
                failed_rows=failed,
            )
            return StepOutcome(batch=str(ref), step="accuracy", status=StepStatus.REJECTED, detail=message)
    _renew(ctx)
    with store.writing(ref.work("failures.parquet")) as path:
        pq.write_table(failures, path, compression=WORK_COMPRESSION)
    store.put_bytes(ref.work("accuracy.json"), dump_json(summary))
    _maybe_fail(ctx, "accuracy")
    detail = f"{summary.failed_rows} of {summary.rows} rows failed ({summary.failed_ratio:.2%})"
    return StepOutcome(batch=str(ref), step="accuracy", status=StepStatus.DONE, detail=detail)


def _failed_rows(conformed: Path, failures: pa.Table, chunk_rows: int) -> pa.Table:
    """The failing rows with their values, source row and the rules they failed."""
    if failures.num_rows == 0:
        return failures
    parts = []
    wanted = failures.column(SOURCE_ROW)
    for chunk in pq.ParquetFile(conformed).iter_batches(batch_size=chunk_rows):
        mask = pc.is_in(chunk.column(SOURCE_ROW), value_set=wanted)
        if pc.any(mask).as_py():
            parts.append(pa.Table.from_batches([chunk.filter(mask)]).drop_columns([PARSE_FAILURES]))
    return with_failures(pa.concat_tables(parts), failures)


def with_failures(rows: pa.Table, failures: pa.Table) -> pa.Table:
    """`rows` with a `failed` column: the rules each row failed (Acero cannot join list columns)."""
    positions = pc.index_in(rows.column(SOURCE_ROW), value_set=failures.column(SOURCE_ROW))
    return rows.append_column("failed", pc.take(failures.column("failed"), positions)).sort_by(SOURCE_ROW)


# 4 ── record ids, retention, digests ──────────────────────────────────────────────


def assign(ref: BatchRef, ctx: IntakeContext) -> StepOutcome:
    """Give each passing row a UUIDv7, its retention date and keyed digests, and stage it for publishing.

    Passing rows go straight to hidden, not-yet-published curated files (one per expiry
    month); their lineage columns (no personal data) to `work/.../lineage.parquet`.
    Failing rows go to `quarantine/.../failed_rows.parquet` with the rules they failed.
    """
    if (skipped := _skip(ref, ctx, "assign", ref.work("assign.json"))) is not None:
        return skipped
    from kakunin.intake.records import retention_until, uuid7_strings
    from kakunin.lineage.digests import Hmac, canonical_records, normalised_subject_keys

    if ctx.hmac_key is None:
        raise ConfigError("assigning records needs the HMAC key (KAKUNIN_HMAC_KEY)")
    store = ctx.store
    remove_staged(ref, store)  # a run killed midway may have staged some months already
    _, document = _gate_record(ref, ctx)
    contract = _contract(ctx, ref)
    period = parse_duration(document.retention.period)
    clock_column = (
        document.retention.clock.removeprefix("column:") if document.retention.clock != "received_on" else None
    )
    latest = contract.max_retention_duration.add_to(document.received_on)  # the contract's limit, per record
    hmac = Hmac(ctx.hmac_key)
    with store.reading(ref.work("failures.parquet")) as path:
        failures = pq.read_table(path)
    failed_rows = failures.column(SOURCE_ROW)
    unix_ms = int(ctx.now().timestamp() * 1000)
    data_columns = [c.name for c in contract.columns]
    months: dict[str, int] = {}
    quarantined = fallbacks = clamped_rows = 0
    with ExitStack() as stack, store.reading(ref.work("conformed.parquet")) as conformed:
        curated: dict[str, pq.ParquetWriter] = {}
        lineage_path = stack.enter_context(store.writing(ref.work("lineage.parquet")))
        lineage_writer = stack.enter_context(
            pq.ParquetWriter(lineage_path, LINEAGE_COLUMNS, compression=WORK_COMPRESSION)
        )
        q_writer: pq.ParquetWriter | None = None
        for chunk in pq.ParquetFile(conformed).iter_batches(batch_size=ctx.chunk_rows):
            _renew(ctx)
            table = pa.Table.from_batches([chunk]).drop_columns([PARSE_FAILURES])
            failing = pc.is_in(table.column(SOURCE_ROW), value_set=failed_rows)
            passing = table.filter(pc.invert(failing))
            if passing.num_rows:
                until, fallback, clamped = retention_until(
                    passing.column(clock_column).combine_chunks() if clock_column else None,
                    rows=passing.num_rows,
                    received_on=document.received_on,
                    period=period,
                    latest=latest,
                )
                record_ids = uuid7_strings(passing.num_rows, unix_ms=unix_ms)
                lineage_writer.write_table(
                    pa.table(
                        [
                            record_ids,
                            passing.column(SOURCE_ROW),
                            until,
                            fallback,
                            clamped,
                            hmac.hexdigests(canonical_records(passing, contract)),
                            hmac.hexdigests(normalised_subject_keys(passing, contract.subject_key)),
                        ],
                        schema=LINEAGE_COLUMNS,
                    )
                )
                data = pa.table(
                    [record_ids, *(passing.column(c) for c in data_columns), until],
                    names=[RECORD_ID, *data_columns, RETENTION_UNTIL],
                )
                expiry = pc.strftime(pc.cast(until, pa.timestamp("s")), format="%Y-%m")
                for month in pc.unique(expiry).to_pylist():
                    part = data.filter(pc.equal(expiry, month))
                    if month not in curated:
                        path = stack.enter_context(store.writing(curated_key(ref, month, pending=True)))
                        curated[month] = stack.enter_context(
                            pq.ParquetWriter(path, part.schema, compression=CURATED_COMPRESSION)
                        )
                    curated[month].write_table(part)
                    months[month] = months.get(month, 0) + part.num_rows
                fallbacks += pc.sum(fallback).as_py() or 0
                clamped_rows += pc.sum(clamped).as_py() or 0
            rejected_rows = table.filter(failing)
            if rejected_rows.num_rows:
                with_rules = with_failures(rejected_rows, failures)
                if q_writer is None:
                    q_path = stack.enter_context(store.writing(ref.quarantine("failed_rows.parquet")))
                    q_writer = stack.enter_context(
                        pq.ParquetWriter(q_path, with_rules.schema, compression=CURATED_COMPRESSION)
                    )
                q_writer.write_table(with_rules)
                quarantined += rejected_rows.num_rows
        _renew(ctx)  # the staged files replace their names as this block closes: still ours?
    published = sum(months.values())
    counts = {
        "published": published,
        "quarantined": quarantined,
        "retention_fallbacks": fallbacks,
        "retention_clamped": clamped_rows,
        "months": months,
    }
    store.put_bytes(ref.work("assign.json"), json_text(counts, indent=None).encode())
    _maybe_fail(ctx, "assign")
    return StepOutcome(
        batch=str(ref),
        step="assign",
        status=StepStatus.DONE,
        detail=f"{published} to publish, {quarantined} quarantined",
    )


# 5 ── publish ─────────────────────────────────────────────────────────────────────


def curated_key(ref: BatchRef, month: str, *, pending: bool = False) -> str:
    name = f"_pending-{ref.batch_id}.parquet" if pending else f"part-{ref.batch_id}.parquet"
    return f"curated/{ref.dataset}/expiry={month}/{name}"


def remove_staged(ref: BatchRef, store: ObjectStore) -> int:
    """Delete the batch's staged (`_pending-*`) curated files; returns how many there were."""
    name = f"/_pending-{ref.batch_id}.parquet"
    staged = [key for key in store.list_keys(f"curated/{ref.dataset}/") if key.endswith(name)]
    for key in staged:
        store.delete(key)
    return len(staged)


def publish(ref: BatchRef, ctx: IntakeContext) -> StepOutcome:
    """Make the staged files visible, then commit: renamed from hidden names, then the commit record.

    Readers that honour commits never see part of a batch; readers that glob `part-*`
    files see it appear file by file within one loop of renames. A retry renames what is
    left and commits the same files: nothing is published twice.
    """
    if (skipped := _skip(ref, ctx, "publish", commit_key(ref.dataset, ref.batch_id))) is not None:
        return skipped
    from kakunin.lineage.formats import Commit, StoredObject

    store = ctx.store
    _renew(ctx)
    months: dict[str, int] = json.loads(store.get_bytes(ref.work("assign.json")))["months"]
    files = []
    for month in sorted(months):
        final = curated_key(ref, month)
        if store.exists(curated_key(ref, month, pending=True)):
            store.rename(curated_key(ref, month, pending=True), final)
        files.append(StoredObject(key=final, sha256=object_sha256(store, final), rows=months[month]))
        _maybe_fail(ctx, "publish-files")
    commit = Commit(dataset=ref.dataset, batch_id=ref.batch_id, committed_at=ctx.now(), files=files)
    store.put_bytes(commit_key(ref.dataset, ref.batch_id), dump_json(commit))
    _maybe_fail(ctx, "publish")
    total = sum(months.values())
    return StepOutcome(
        batch=str(ref), step="publish", status=StepStatus.DONE, detail=f"{total} records in {len(files)} file(s)"
    )


# 6 ── lineage ─────────────────────────────────────────────────────────────────────


def lineage(ref: BatchRef, ctx: IntakeContext) -> StepOutcome:
    """Write the manifest, the receipt record and the chain link; then clear landing and work."""
    from kakunin.lineage.write import write_lineage

    store = ctx.store
    if is_rejected(ref, store):
        finish_rejection(ref, ctx)
        return StepOutcome(batch=str(ref), step="lineage", status=StepStatus.SKIPPED)
    if _is_linked(store, header_key(ref)):
        clear_published(ref, ctx)
        return StepOutcome(batch=str(ref), step="lineage", status=StepStatus.ALREADY_DONE)
    audit.prepare_once(store, _audit_marker(ref, AuditAction.PUBLISH))
    _renew(ctx)
    header = write_lineage(ref, ctx)
    _maybe_fail(ctx, "lineage-written")
    clear_published(ref, ctx)
    detail = (
        f"manifest #{header.sequence}: {header.counts.published} published, {header.counts.quarantined} quarantined"
    )
    return StepOutcome(batch=str(ref), step="lineage", status=StepStatus.DONE, detail=detail)


def _audit_publish(ref: BatchRef, ctx: IntakeContext) -> None:
    """The publish entry, once; its detail comes from the linked header (the work files may be gone)."""
    from kakunin.lineage.formats import ManifestHeader

    store = ctx.store
    marker = _audit_marker(ref, AuditAction.PUBLISH)
    if not store.exists(marker):
        return
    data = store.get_bytes(header_key(ref))
    header = ManifestHeader.model_validate_json(data)
    record, _ = _gate_record(ref, ctx)
    audit.record_once(
        store,
        AuditAction.PUBLISH,
        marker_key=marker,
        at=header.created_at,
        actor=ctx.actor,
        dataset=ref.dataset,
        batch_id=ref.batch_id,
        document_id=header.provenance_document_id,
        codes=[f.code.value for f in record.findings],
        detail={
            "manifest": header_key(ref),
            "manifest_sha256": sha256_bytes(data),
            "received": header.counts.received,
            "published": header.counts.published,
            "quarantined": header.counts.quarantined,
        },
    )


def _is_linked(store: ObjectStore, header_key: str) -> bool:
    """Whether the header exists and the chain link at its sequence pins exactly it."""
    from kakunin.lineage.chain import entry_key
    from kakunin.lineage.formats import MANIFEST_CHAIN, ChainLink, ManifestHeader

    if not store.exists(header_key):
        return False
    data = store.get_bytes(header_key)
    header = ManifestHeader.model_validate_json(data)
    link_key = entry_key(MANIFEST_CHAIN, header.sequence)
    if not store.exists(link_key):
        return False
    link = ChainLink.model_validate_json(store.get_bytes(link_key))
    return link.header_key == header_key and link.header_sha256 == sha256_bytes(data)


STEPS: tuple[tuple[str, Callable[[BatchRef, IntakeContext], StepOutcome]], ...] = (
    ("gate", gate),
    ("parse", parse),
    ("accuracy", accuracy),
    ("assign", assign),
    ("publish", publish),
    ("lineage", lineage),
)

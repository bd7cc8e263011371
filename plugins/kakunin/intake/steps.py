"""The six intake steps for one batch: gate, parse, accuracy, assign, publish, lineage.

Each step is a function of (batch, context) that reads what the previous step left
under `work/<dataset>/<batch_id>/` and leaves its own output there, so the steps can run
as separate Airflow tasks (tasks pass batch references, never data) or one after the
other from the CLI. Every step is idempotent: a step whose output exists does nothing,
so a retried task or a re-run repairs a batch that stopped midway, and publishing the
same batch twice writes the same files under the same names.

A batch rejected at any step is moved whole to `quarantine/<dataset>/<batch_id>/` with
`rejection.json`, and the later steps skip it.

Around the steps: `context` (what they are given), `work` (what they leave each other),
`outcomes` (rejection, clearing, skipping), `kernels` and `staging` (the Arrow work of
`assign`), `manifest` (the lineage written by the last step).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import replace

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kakunin import audit
from kakunin.approvals import awaiting_approval, load_intake_policy, self_approval
from kakunin.batches import RejectedProvider, StoredFile, Submission, materialised
from kakunin.codes import ReasonCode
from kakunin.durations import parse_duration
from kakunin.errors import ConfigError, StorageError
from kakunin.hashing import sha256_bytes, sha256_file
from kakunin.intake.apart import refuse_misplaced
from kakunin.intake.conform import PARSE_FAILURES, ParseError, conform_file
from kakunin.intake.context import IntakeContext, StepOutcome, StepStatus, holding_lease
from kakunin.intake.encoding import detect_encoding
from kakunin.intake.kernels import RowsBySource, Stamped, Stamping, failed_rows, stamp
from kakunin.intake.manifest import write_lineage
from kakunin.intake.outcomes import audit_accept, clear_published, finish_rejection, reject, remove_staged, skip
from kakunin.intake.staging import Stager
from kakunin.intake.subjects import refuse_overlap, screen_subjects
from kakunin.intake.work import (
    ACCURACY,
    ASSIGN,
    CONFORMED,
    FAILURES,
    GATE,
    IDENTIFIERS,
    PARSE,
    WORK_COMPRESSION,
    AssignRecord,
    GateRecord,
    ParseRecord,
    gate_record,
    in_order,
    is_linked,
    is_rejected,
    read_in_chunks,
    slices,
    subject_bucket_characters,
)
from kakunin.layout import (
    BatchRef,
    provenance_evidence_index_key,
    provenance_evidence_key,
    provenance_key,
    provenance_prefix,
)
from kakunin.lineage.digests import Hmac
from kakunin.lineage.formats import SOURCE_ROW, AuditAction, Commit, EvidenceIndexEntry, StoredObject
from kakunin.provenance.document import DOCUMENT_NAMES, judge, read_document
from kakunin.provenance.evidence import normalise_evidence_path
from kakunin.provenance.findings import Finding
from kakunin.provenance.model import ProvenanceDocument
from kakunin.scratch import sweep_scratch
from kakunin.storage import ObjectStore, check_key, load, object_sha256
from kakunin.subjects.identifiers import subject_key
from kakunin.yaml_io import dump_json, json_bytes


def run_step(name: str, ref: BatchRef, ctx: IntakeContext) -> StepOutcome:
    """One step under the batch's lease (what a DAG task calls). A finished batch's released lease
    is removed by the next run's leftover sweep, never here: another worker may be taking it.
    Scratch folders of killed processes on this worker go first (`kakunin.scratch`)."""
    sweep_scratch()
    step = dict(STEPS)[name]
    with holding_lease(ref, ctx) as lease:
        return step(ref, replace(ctx, lease=lease))


# 1 ── provenance gate ─────────────────────────────────────────────────────────────


def gate(ref: BatchRef, ctx: IntakeContext) -> StepOutcome:
    """Re-check the landed batch: files unchanged since submission, document still acceptable."""
    if (skipped := skip(ref, ctx, "gate", ref.work(GATE))) is not None:
        return skipped
    store = ctx.store
    if awaiting_approval(store, ref, load_intake_policy(ctx.registry.root)):
        return StepOutcome(batch=str(ref), step="gate", status=StepStatus.AWAITING)
    submission = load(store, ref.submission, Submission)
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
    own = self_approval(submission, parsed.document)  # the approver named is the very user who submitted it
    findings = tampered + verdict.findings + ([own] if own else [])
    if tampered or own or not verdict.accepted or parsed.document is None:
        reject(
            ref,
            ctx,
            stage="provenance",
            findings=findings,
            document_id=submission.document_id,
            document_sha256=submission.document_sha256,
            provider=RejectedProvider.of(parsed.document),
        )
        return StepOutcome(
            batch=str(ref),
            step="gate",
            status=StepStatus.REJECTED,
            detail=", ".join(dict.fromkeys(f.code.value for f in findings if f.severity == "error")),
        )
    document = parsed.document
    if (refused := refuse_misplaced(ref, ctx, document, submission.document_sha256)) is not None:
        return refused  # entrusted data (委託) stays apart from ours
    evidence_index = _keep_provenance(ref, store, submission, document)
    record = GateRecord(
        document=document.model_dump(mode="json", by_alias=True),
        document_sha256=submission.document_sha256,
        document_file=submission.document_file,
        data_file=submission.data_file,
        findings=verdict.findings,
        provenance_prefix=provenance_prefix(document.document_id),
        evidence_index=evidence_index,
    )
    audit.prepare_once(store, ref.audit_marker(AuditAction.ACCEPT))
    store.put_bytes(ref.work(GATE), dump_json(record))
    audit_accept(ref, ctx)
    ctx.maybe_fail("gate")
    return StepOutcome(batch=str(ref), step="gate", status=StepStatus.DONE, detail="accepted")


def _keep_provenance(
    ref: BatchRef, store: ObjectStore, submission: Submission, document: ProvenanceDocument
) -> StoredObject:
    """Copy the accepted document and its evidence (by content) to `provenance/<document_id>/`, with an index.

    Returns the index as stored: the manifest header pins its hash, so verify can tell an
    evidence file replaced or removed (each is named by its hash in the index)."""
    document_file = submission.document_file
    store.put_bytes(provenance_key(document.document_id, document_file), store.get_bytes(ref.landing(document_file)))
    by_name = {f.path: f for f in submission.files}
    index = []
    for entry in document.evidence:
        stored = by_name[normalise_evidence_path(entry.file) or ""]  # the judge found it among these files
        with store.reading(ref.landing(stored.landing_name)) as source:
            store.put_file(provenance_evidence_key(document.document_id, stored.sha256), source)
        index.append(EvidenceIndexEntry(id=entry.id, kind=entry.kind.value, file=entry.file, sha256=stored.sha256))
    data = json_bytes([line.model_dump(mode="json") for line in index])
    key = provenance_evidence_index_key(document.document_id)
    store.put_bytes(key, data)
    return StoredObject(key=key, sha256=sha256_bytes(data))


def _landed_unchanged(store: ObjectStore, ref: BatchRef, stored: StoredFile) -> bool:
    """Whether the landed object behind `stored` exists with the hash it was submitted with."""
    try:
        key = check_key(ref.landing(stored.landing_name))
        return store.exists(key) and object_sha256(store, key) == stored.sha256
    except StorageError:
        return False  # a name no submit writes: _submission.json itself was edited


# 2 ── parse and conform ───────────────────────────────────────────────────────────


def parse(ref: BatchRef, ctx: IntakeContext) -> StepOutcome:
    """Decode strictly in the contract's first matching encoding and type every column, in chunks."""
    if (skipped := skip(ref, ctx, "parse", ref.work(PARSE))) is not None:
        return skipped
    store = ctx.store
    record, document = gate_record(ref, ctx.store)
    contract = ctx.contract(ref)

    def fail(code: ReasonCode, message: str) -> StepOutcome:
        reject(
            ref,
            ctx,
            stage="parse",
            findings=[Finding.of(code, record.data_file, message)],
            document_id=document.document_id,
            document_sha256=record.document_sha256,
            provider=RejectedProvider.of(document),
        )
        return StepOutcome(batch=str(ref), step="parse", status=StepStatus.REJECTED, detail=code.value)

    if record.data_file != f"data.{contract.format.type}":
        return fail(ReasonCode.PARSE_SCHEMA, f"dataset {contract.dataset} takes data.{contract.format.type}")
    with store.reading(ref.landing(record.data_file)) as source:
        detection = detect_encoding(source, contract.encodings)
        if detection.encoding is None:
            return fail(ReasonCode.PARSE_ENCODING, detection.reason)
        encoding = detection.encoding
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kakunin-source-hash") as hashing:
            digest = hashing.submit(sha256_file, source)  # hashing releases the GIL: it runs beside the parse
            try:
                with store.writing(ref.work(CONFORMED)) as out:
                    rows, parse_failed = conform_file(
                        source,
                        out,
                        contract,
                        encoding,
                        chunk_rows=ctx.chunk_rows,
                        block_bytes=ctx.block_bytes,
                        workers=ctx.workers,
                        before_chunk=ctx.renew_lease,  # a long file must not outlive the lease
                    )
            except ParseError as exc:
                return fail(exc.code, exc.message)
            source_sha256 = digest.result()
    if rows == 0:
        return fail(ReasonCode.PARSE_SCHEMA, "the file has a header but no rows")
    parsed = ParseRecord(encoding=encoding, rows=rows, source_sha256=source_sha256, parse_failed_rows=parse_failed)
    store.put_bytes(ref.work(PARSE), dump_json(parsed))
    ctx.maybe_fail("parse")
    return StepOutcome(batch=str(ref), step="parse", status=StepStatus.DONE, detail=f"{rows} rows in {encoding}")


# 3 ── accuracy ────────────────────────────────────────────────────────────────────


def accuracy(ref: BatchRef, ctx: IntakeContext) -> StepOutcome:
    """Run the dataset's GX suite; reject the batch whole above `max_failed_row_ratio`."""
    if (skipped := skip(ref, ctx, "accuracy", ref.work(ACCURACY))) is not None:
        return skipped
    from kakunin.intake import accuracy as checks
    from kakunin.intake.data_docs import publish_data_docs

    store = ctx.store
    record, document = gate_record(ref, ctx.store)
    contract = ctx.contract(ref)
    if contract.suite is None:
        raise ConfigError(f"dataset {contract.dataset} names no accuracy suite in its contract")
    suite_path = ctx.registry.root / contract.dataset / contract.suite
    with store.reading(ref.work(CONFORMED)) as conformed:
        failures, summary, runner = checks.evaluate(
            conformed,
            suite_path=suite_path,
            received_on=document.received_on,
            max_failed_row_ratio=contract.max_failed_row_ratio,
            run_name=ref.batch_id,
            chunk_rows=ctx.chunk_rows,
            workers=ctx.workers,
        )
        docs = publish_data_docs(store, ref, runner, summary, run_time=ctx.now())
        summary = summary.model_copy(update={"data_docs": docs})
        if summary.rejected:
            failed = failed_rows(conformed, failures, ctx.chunk_rows)
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
                provider=RejectedProvider.of(document),
                failed_rows=failed,
            )
            return StepOutcome(batch=str(ref), step="accuracy", status=StepStatus.REJECTED, detail=message)
    ctx.renew_lease()
    with store.writing(ref.work(FAILURES)) as path:
        pq.write_table(failures, path, compression=WORK_COMPRESSION)
    store.put_bytes(ref.work(ACCURACY), dump_json(summary))
    ctx.maybe_fail("accuracy")
    detail = f"{summary.failed_rows} of {summary.rows} rows failed ({summary.failed_ratio:.2%})"
    return StepOutcome(batch=str(ref), step="accuracy", status=StepStatus.DONE, detail=detail)


# 4 ── record ids, retention, digests ──────────────────────────────────────────────


def assign(ref: BatchRef, ctx: IntakeContext) -> StepOutcome:
    """Give each passing row a UUIDv7, its retention date and keyed digests, and stage it for publishing.

    Passing rows go straight to hidden, not-yet-published curated files (one per expiry
    month); their lineage columns (no personal data) to `work/.../lineage.parquet`.
    Failing rows go to `quarantine/.../failed_rows.parquet` with the rules they failed. Before any of
    that, rows of people who asked to be erased are dropped, and a likely leaked copy is rejected
    (`intake.subjects`).
    """
    if (skipped := skip(ref, ctx, "assign", ref.work(ASSIGN))) is not None:
        return skipped
    if ctx.hmac_key is None:
        raise ConfigError("assigning records needs the HMAC key (KAKUNIN_HMAC_KEY)")
    store = ctx.store
    remove_staged(ref, store)  # a run killed midway may have staged some months already
    _, document = gate_record(ref, store)
    contract = ctx.contract(ref)
    screening = screen_subjects(ref, ctx, document)
    if (refused := refuse_overlap(ref, ctx, screening)) is not None:
        return refused  # data we already hold, from someone else: a leaked copy?
    erased = screening.erased if screening is not None else pa.array([], pa.int64())
    clock = document.retention.clock
    stamping = Stamping(
        contract=contract,
        received_on=document.received_on,
        period=parse_duration(document.retention.period),
        clock_column=clock.removeprefix("column:") if clock != "received_on" else None,
        latest=contract.max_retention_duration.add_to(document.received_on),  # the contract's limit, per record
        unix_ms=int(ctx.now().timestamp() * 1000),
        hmac=Hmac(ctx.hmac_key),
        subject_key=subject_key(ctx.hmac_key),
    )
    with store.reading(ref.work(FAILURES)) as path:
        failures = pq.read_table(path)
    failing_rows = failures.column(SOURCE_ROW)
    with ExitStack() as files:
        rows = load(store, ref.work(PARSE), ParseRecord).rows
        stager = files.enter_context(Stager(store, ref, bucket_characters=subject_bucket_characters(rows)))
        conformed = files.enter_context(store.reading(ref.work(CONFORMED)))
        screened = None  # screening's identifier digests, reused for the index rows
        if screening is not None and store.exists(ref.work(IDENTIFIERS)):
            screened = RowsBySource(files.enter_context(store.reading(ref.work(IDENTIFIERS))))

        def parts() -> Iterator[tuple[pa.Table, pa.Table | None]]:
            """Each slice with screening's digests of its rows (read in source order, on this thread)."""
            for chunk in read_in_chunks(conformed, chunk_rows=ctx.chunk_rows):
                ctx.renew_lease()
                for part in slices(chunk.drop_columns([PARSE_FAILURES]), ctx.digest_rows):
                    if part.num_rows:
                        last = part.column(SOURCE_ROW)[-1].as_py()
                        yield part, screened.upto(last) if screened is not None else None

        def stamped(item: tuple[pa.Table, pa.Table | None]) -> tuple[Stamped | None, pa.Table]:
            table, identifiers = item
            if len(erased):  # a filter copies the slice even when it keeps every row
                table = table.filter(pc.invert(pc.is_in(table.column(SOURCE_ROW), value_set=erased)))
            failing = pc.is_in(table.column(SOURCE_ROW), value_set=failing_rows)
            passing = table.filter(pc.invert(failing)) if len(failing_rows) else table
            return (stamp(passing, stamping, identifiers) if passing.num_rows else None), table.filter(failing)

        for passed, failed in in_order(stamped, parts(), workers=ctx.workers):  # slices stamped side by side
            if passed is not None:
                stager.add_passing(passed)  # written in source order, on this thread
            stager.add_failing(failed, failures)
            pa.default_memory_pool().release_unused()  # give the slice's memory back: the next needs as much
        ctx.renew_lease()  # the staged files replace their names as this block closes: still ours?
    record = stager.record().model_copy(
        update={"erased": len(erased), "overlap": screening.verdict.overlap if screening is not None else None}
    )
    store.put_bytes(ref.work(ASSIGN), record.to_bytes())
    ctx.maybe_fail("assign")
    return StepOutcome(
        batch=str(ref),
        step="assign",
        status=StepStatus.DONE,
        detail=f"{record.published} to publish, {record.quarantined} quarantined, {record.erased} erased",
    )


# 5 ── publish ─────────────────────────────────────────────────────────────────────


def publish(ref: BatchRef, ctx: IntakeContext) -> StepOutcome:
    """Make the staged files visible, then commit: renamed from hidden names, then the commit record.

    The commit record is written last, after every file it names: it is the switch. Readers
    that honour commits never see part of a batch; readers that glob `part-*` files see it
    appear file by file within one loop of renames. On S3 a rename is a copy and a delete,
    not atomic, so a crash can leave a file under both names; a retry renames what is left
    (the copy is idempotent) and commits the same files: nothing is published twice.
    """
    if (skipped := skip(ref, ctx, "publish", ref.commit)) is not None:
        return skipped
    store = ctx.store
    ctx.renew_lease()
    months = load(store, ref.work(ASSIGN), AssignRecord).months
    record, document = gate_record(ref, store)
    uncommitted = [ref.curated(month) for month in months]  # a run cut short may have renamed some already
    if (refused := refuse_misplaced(ref, ctx, document, record.document_sha256, uncommitted=uncommitted)) is not None:
        return refused  # the contract changed since the gate: entrusted data (委託) still stays apart
    files = []
    for month in sorted(months):
        final = ref.curated(month)
        if store.exists(ref.curated(month, pending=True)):
            store.rename(ref.curated(month, pending=True), final)
        files.append(StoredObject(key=final, sha256=object_sha256(store, final), rows=months[month]))
        ctx.maybe_fail("publish-files")
    commit = Commit(dataset=ref.dataset, batch_id=ref.batch_id, committed_at=ctx.now(), files=files)
    store.put_bytes(ref.commit, dump_json(commit))
    ctx.maybe_fail("publish")
    total = sum(months.values())
    return StepOutcome(
        batch=str(ref), step="publish", status=StepStatus.DONE, detail=f"{total} records in {len(files)} file(s)"
    )


# 6 ── lineage ─────────────────────────────────────────────────────────────────────


def lineage(ref: BatchRef, ctx: IntakeContext) -> StepOutcome:
    """Write the manifest, the receipt record and the chain link; then clear landing and work."""
    store = ctx.store
    if is_rejected(ref, store):
        finish_rejection(ref, ctx)
        return StepOutcome(batch=str(ref), step="lineage", status=StepStatus.SKIPPED)
    if is_linked(ref, store):
        clear_published(ref, ctx)
        return StepOutcome(batch=str(ref), step="lineage", status=StepStatus.ALREADY_DONE)
    audit.prepare_once(store, ref.audit_marker(AuditAction.PUBLISH))
    ctx.renew_lease()
    header = write_lineage(ref, ctx)
    ctx.maybe_fail("lineage-written")
    clear_published(ref, ctx)
    detail = (
        f"manifest #{header.sequence}: {header.counts.published} published, {header.counts.quarantined} quarantined"
    )
    return StepOutcome(batch=str(ref), step="lineage", status=StepStatus.DONE, detail=detail)


STEPS: tuple[tuple[str, Callable[[BatchRef, IntakeContext], StepOutcome]], ...] = (
    ("gate", gate),
    ("parse", parse),
    ("accuracy", accuracy),
    ("assign", assign),
    ("publish", publish),
    ("lineage", lineage),
)

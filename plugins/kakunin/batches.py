"""Submitting a batch into the landing zone, and listing every batch with its state.

A submission is run through the provenance gate first. An accepted batch has its
document, data file and evidence copied to `landing/<dataset>/<batch_id>/`, and
`_submission.json` written last: a batch without it is incomplete and never picked up.
Submitting is all or nothing: if any copy fails, what was copied is removed again.
Evidence lands under its content key (`evidence/<sha256>`), since people name files in
ways a store key cannot carry (`契約書2026.pdf`); the name they gave, normalised, is kept
in `_submission.json` (`files[].path`), and `materialised` puts the files back under it.
A rejected batch is not copied; its findings go to `quarantine/<dataset>/<batch_id>/
rejection.json`, so the rejection is on record and the employee's files stay where they are;
the audit log's `reject` entry carries the rejection's SHA-256, so it cannot be edited unseen.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kakunin import audit
from kakunin.codes import ReasonCode
from kakunin.contracts import Registry
from kakunin.disposal import Disposal, logged_disposals
from kakunin.errors import InputError, KakuninError, StorageError, StorageNotFound
from kakunin.hashing import sha256_bytes, sha256_file
from kakunin.keys import hmac_key_if_set
from kakunin.layout import (
    LANDING,
    MANIFEST_FILE,
    MANIFESTS,
    QUARANTINE,
    REJECTION_FILE,
    SUBMISSION_FILE,
    BatchRef,
    landed_evidence_name,
)
from kakunin.lineage.chain import closed_certificates
from kakunin.lineage.formats import AuditAction, ManifestHeader, Overlap
from kakunin.provenance.document import DOCUMENT_NAMES, judge, locate_document, read_document
from kakunin.provenance.evidence import normalise_evidence_path, resolve_inside
from kakunin.provenance.findings import Finding, Verdict, decide
from kakunin.provenance.model import ProvenanceDocument
from kakunin.scratch import scratch_dir
from kakunin.storage import ObjectStore, check_key, delete_prefix, load
from kakunin.yaml_io import dump_json

DATA_FILES = ("data.csv", "data.parquet")
UNKNOWN_DATASET = "_unknown"

BatchState = Literal["pending", "awaiting_approval", "rejected", "published", "partly_purged", "purged"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoredFile(_Record):
    """A file as copied into the store, with the hash it had."""

    path: str = Field(description="The file's path in the batch folder as submitted (normalised: no `./`, no `//`).")
    key: str | None = Field(
        default=None,
        description="Where it is stored, relative to the batch's landing folder (`evidence/<sha256>` for "
        "evidence); absent in submissions made before evidence was content-addressed: then it is `path`.",
    )
    sha256: str
    bytes: int

    @property
    def landing_name(self) -> str:
        """The key of the file under `landing/<dataset>/<batch_id>/`."""
        return self.key or self.path


class Submission(_Record):
    """`_submission.json`: what was accepted into landing, when, and with which warnings."""

    batch_id: str
    dataset: str
    document_id: str
    document_sha256: str
    document_file: str
    data_file: str
    submitted_at: datetime
    files: list[StoredFile]
    findings: list[Finding]
    submitted_by: str | None = Field(default=None, description="the submitting user's id (absent before v3)")
    submitted_by_authenticated_by: str | None = Field(
        default=None, description="who vouches for submitted_by: `airflow`, or null: self-declared"
    )


class RejectedProvider(_Record):
    """Whom we refused: the provider as its document named it (no personal data: a business)."""

    legal_name: str | None = None
    corporate_number: str | None = None

    @classmethod
    def of(cls, document: ProvenanceDocument | None) -> RejectedProvider | None:
        """The provider of a document whose shape could be read, else None."""
        if document is None:
            return None
        return cls(legal_name=document.provider.legal_name, corporate_number=document.provider.corporate_number)


class Rejection(_Record):
    """`rejection.json`: why a batch was refused, at which stage, and whom we refused."""

    batch_id: str
    dataset: str
    document_id: str | None
    document_sha256: str | None
    stage: Literal["provenance", "parse", "accuracy"]
    rejected_at: datetime
    findings: list[Finding]
    provider: RejectedProvider | None = Field(
        default=None,
        description="The provider's legal name and corporate number from the document, so 'whom did we refuse, "
        "and why' can be answered; absent in rejections written before v2 or when the document was unreadable.",
    )
    submitted_by: str | None = Field(
        default=None, description="the user who submitted the refused batch (absent before v3 and at intake)"
    )


class BatchSummary(_Record):
    """One line of `kakunin batches`."""

    batch_id: str
    dataset: str
    document_id: str | None
    state: BatchState
    reason_codes: list[str]
    stage: str | None = None
    received: int | None = None
    published: int | None = None
    quarantined: int | None = None
    purged: int | None = Field(
        default=None,
        description="records of this batch purged by closed retention certificates (published batches only)",
    )
    disposal: Disposal | None = Field(
        default=None, description="how a rejected batch's copies outside the store were disposed of (audit log)"
    )
    erased: int | None = Field(default=None, description="rows dropped: their person asked to be erased (published)")
    overlap: Overlap | None = Field(default=None, description="the leaked-copy signal of a published batch")
    submitted_by: str | None = Field(
        default=None, description="who submitted it, from `_submission.json` or `rejection.json` (when recorded)"
    )


class SubmitResult(_Record):
    """The verdict of a submission and where it went."""

    verdict: Verdict
    batch_id: str
    landed: bool
    files_not_copied: list[str]


def new_batch_id(now: datetime) -> str:
    """Sortable by submission time, opaque, and carrying nothing about the data."""
    return f"{now:%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(4)}"


def find_data_file(batch_dir: Path) -> Path:
    """The batch's one data file; `InputError` when there is none, two, or a link."""
    found = [batch_dir / name for name in DATA_FILES if (batch_dir / name).exists() or (batch_dir / name).is_symlink()]
    if not found:
        raise InputError(f"{batch_dir}: no data file; a batch holds {' or '.join(DATA_FILES)}")
    if len(found) > 1:
        raise InputError(f"{batch_dir}: both data.csv and data.parquet; a batch holds exactly one data file")
    if found[0].is_symlink() or not found[0].is_file():
        raise InputError(f"{found[0]}: the data file must be a regular file, not a link or a folder")
    return found[0]


def submit_batch(
    batch_dir: Path, *, store: ObjectStore, registry: Registry, today: date, now: datetime
) -> SubmitResult:
    """Check a batch folder and land it if accepted; record the rejection otherwise."""
    if not batch_dir.is_dir():
        raise InputError(f"{batch_dir}: not a batch folder")
    folder, doc_path = locate_document(batch_dir.resolve())
    data_file = find_data_file(folder)
    parsed = read_document(doc_path)
    verdict = judge(parsed, batch_dir=folder, registry=registry, today=today)
    if verdict.document_id is not None:
        verdict = _refuse_reused_document_id(verdict, list_batches(store))
    batch_id = new_batch_id(now)
    if not verdict.accepted or parsed.document is None or doc_path is None:
        dataset = verdict.dataset if verdict.dataset and registry.contract(verdict.dataset) else UNKNOWN_DATASET
        rejection = Rejection(
            batch_id=batch_id,
            dataset=dataset,
            document_id=verdict.document_id,
            document_sha256=verdict.document_sha256,
            stage="provenance",
            rejected_at=now,
            findings=verdict.findings,
            provider=RejectedProvider.of(parsed.document),
            submitted_by=audit.current().id,
        )
        _record_rejection(store, BatchRef(dataset, batch_id), rejection)
        return SubmitResult(verdict=verdict, batch_id=batch_id, landed=False, files_not_copied=[])
    document = parsed.document
    plan: list[tuple[Path, str, str | None]] = [(doc_path, doc_path.name, doc_path.name)]
    plan.append((data_file, data_file.name, data_file.name))
    seen: set[str] = set()
    for entry in document.evidence:
        path, name = resolve_inside(folder, entry.file), normalise_evidence_path(entry.file)
        if path is not None and name is not None and name not in seen:
            seen.add(name)
            plan.append((path, name, None))
    landed = BatchRef(document.dataset, batch_id)
    prefix = landed.landing()
    submitter = audit.current()
    try:
        stored = _copy_all(plan, store=store, prefix=prefix)
        submission = Submission(
            batch_id=batch_id,
            dataset=document.dataset,
            document_id=document.document_id,
            document_sha256=verdict.document_sha256 or "",
            document_file=doc_path.name,
            data_file=data_file.name,
            submitted_at=now,
            files=stored,
            findings=verdict.findings,
            submitted_by=submitter.id,
            submitted_by_authenticated_by=submitter.authenticated_by,
        )
        store.put_bytes(landed.submission, dump_json(submission))
    except BaseException:
        _remove_quietly(store, prefix)
        raise
    if hmac_key_if_set() is not None:  # keyless, an unsealed entry would break a keyed verify; the file names the user
        audit.record(
            store,
            AuditAction.SUBMIT,
            at=now,
            actor=submitter.id,
            dataset=landed.dataset,
            batch_id=batch_id,
            document_id=document.document_id,
        )
    copied = {path.resolve() for path, _, _ in plan}
    not_copied = sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.resolve() not in copied
    )
    return SubmitResult(verdict=verdict, batch_id=batch_id, landed=True, files_not_copied=not_copied)


def _record_rejection(store: ObjectStore, ref: BatchRef, rejection: Rejection) -> None:
    """Write a submit-time rejection and log it with its hash, so verify can tell it edited or removed.

    A crash between the two leaves a rejection the log never recorded: verify reports it,
    which is right, since nothing proves who wrote it.
    """
    data = dump_json(rejection)
    store.put_bytes(ref.rejection, data)
    audit.record(
        store,
        AuditAction.REJECT,
        at=rejection.rejected_at,
        actor=audit.current_actor(),
        dataset=ref.dataset,
        batch_id=ref.batch_id,
        document_id=rejection.document_id,
        codes=sorted({f.code.value for f in rejection.findings}),
        detail={"stage": rejection.stage, "rejection_sha256": sha256_bytes(data)},
    )


def _copy_all(plan: list[tuple[Path, str, str | None]], *, store: ObjectStore, prefix: str) -> list[StoredFile]:
    """Copy (source, submitted name, key or None for `evidence/<sha256>`) into `prefix`."""
    stored: list[StoredFile] = []
    for source, name, key in plan:
        try:
            digest, size = sha256_file(source), source.stat().st_size
        except OSError as exc:
            raise InputError(f"{source}: cannot be read: {exc.strerror}") from exc
        key = key or landed_evidence_name(digest)
        if all(f.landing_name != key for f in stored):
            store.put_file(f"{prefix}/{key}", source)
        stored.append(StoredFile(path=name, key=key, sha256=digest, bytes=size))
    return stored


def _remove_quietly(store: ObjectStore, prefix: str) -> None:
    """Undo a half-done submission (the batch id is new, so everything under it is ours)."""
    with suppress(KakuninError):  # the original error is the one to report; a retry uses a new batch id
        delete_prefix(store, prefix + "/")


@contextmanager
def materialised(store: ObjectStore, prefix: str, submission: Submission) -> Iterator[Path]:
    """The batch's document and evidence in a temporary folder under their submitted names.

    This is how the intake gate re-judges a landed document with the same code that judged
    the employee's folder. The data file is never copied out. A name that is not a safe
    relative path, or an object that is missing, is left out (the gate reports it).
    """
    with scratch_dir("judge") as tmp:
        root = Path(tmp)
        for stored in submission.files:
            if stored.path == submission.data_file:
                continue
            name = normalise_evidence_path(stored.path)
            if name is None or (stored.path == submission.document_file and name not in DOCUMENT_NAMES):
                continue
            try:
                key = check_key(f"{prefix}/{stored.landing_name}")
                if not store.exists(key):
                    continue
                target = root / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with store.reading(key) as source:
                    shutil.copyfile(source, target)
            except (StorageError, OSError):
                continue
        yield root


def _refuse_reused_document_id(verdict: Verdict, batches: list[BatchSummary]) -> Verdict:
    earlier = next((b for b in batches if b.document_id == verdict.document_id), None)
    if earlier is None:
        return verdict
    reuse = Finding.of(
        ReasonCode.SCHEMA,
        "document_id",
        f"document_id {verdict.document_id} was already used by batch {earlier.batch_id} ({earlier.state}); "
        "a corrected or new document needs a new document_id",
    )
    findings = [*verdict.findings, reuse]
    return verdict.model_copy(update={"findings": findings, "decision": decide(findings)})


def list_batches(store: ObjectStore) -> list[BatchSummary]:
    """Every batch in the store, oldest first, with its state and reason codes.

    A published batch whose records retention (or an erasure) removed is `partly_purged` or
    `purged`, counted from the closed purge certificates.
    """
    summaries: dict[str, BatchSummary] = {}
    for key in store.list_keys(f"{LANDING}/"):
        if key.endswith(f"/{SUBMISSION_FILE}"):
            submission = load(store, key, Submission)
            summaries[submission.batch_id] = BatchSummary(
                batch_id=submission.batch_id,
                dataset=submission.dataset,
                document_id=submission.document_id,
                state="pending",
                reason_codes=list(dict.fromkeys(f.code.value for f in submission.findings)),
                submitted_by=submission.submitted_by,
            )
    for key in store.list_keys(f"{QUARANTINE}/"):  # the `_unknown` dataset too: no parser would take it
        if key.endswith(f"/{REJECTION_FILE}"):
            rejection = load(store, key, Rejection)
            summaries[rejection.batch_id] = BatchSummary(
                batch_id=rejection.batch_id,
                dataset=rejection.dataset,
                document_id=rejection.document_id,
                state="rejected",
                reason_codes=list(dict.fromkeys(f.code.value for f in rejection.findings)),
                stage=rejection.stage,
                published=0,
                submitted_by=rejection.submitted_by,
            )
    for key in store.list_keys(f"{MANIFESTS}/"):
        if key.endswith(f"/{MANIFEST_FILE}"):
            header = load(store, key, ManifestHeader)
            failed_rules = ["parse.value"] if header.counts.parse_failed else []
            failed_rules += [short_rule_name(r.rule) for r in header.gx.rules if not r.success]
            failed_rules += [ReasonCode.SUBJECT_ERASED.value] if header.counts.erased else []
            summaries[header.batch_id] = BatchSummary(
                batch_id=header.batch_id,
                dataset=header.dataset,
                document_id=header.provenance_document_id,
                state="published",
                reason_codes=list(dict.fromkeys(failed_rules)),
                received=header.counts.received,
                published=header.counts.published,
                quarantined=header.counts.quarantined,
                erased=header.counts.erased,
                overlap=header.overlap,
            )
    purged = _purged_counts(store)
    disposals = logged_disposals(store) if any(b.state == "rejected" for b in summaries.values()) else {}
    return [_with_disposal(_with_purges(summaries[k], purged), disposals) for k in sorted(summaries)]


def _with_disposal(summary: BatchSummary, disposals: dict[str, Disposal]) -> BatchSummary:
    disposal = disposals.get(summary.batch_id) if summary.state == "rejected" else None
    return summary if disposal is None else summary.model_copy(update={"disposal": disposal})


def find_batch(store: ObjectStore, batch_id: str) -> BatchSummary:
    """The batch with this id, as `kakunin batches` lists it; `StorageNotFound` when there is none."""
    found = next((b for b in list_batches(store) if b.batch_id == batch_id), None)
    if found is None:
        raise StorageNotFound(f"no batch {batch_id!r} in the store (see `kakunin batches`)")
    return found


def _purged_counts(store: ObjectStore) -> dict[str, int]:
    """Records purged per batch id, summed over every closed purge certificate (retention and erasure)."""
    counts: dict[str, int] = {}
    for certificate in closed_certificates(store):
        for batch in certificate.batches:
            counts[batch.batch_id] = counts.get(batch.batch_id, 0) + batch.records
    return counts


def _with_purges(summary: BatchSummary, purged: dict[str, int]) -> BatchSummary:
    """A published batch's state after retention: `purged` when none of its records is left, else `partly_purged`."""
    if summary.state != "published":
        return summary
    count = purged.get(summary.batch_id, 0)
    state: BatchState = "published"
    if count:
        state = "purged" if summary.published is not None and count >= summary.published else "partly_purged"
    return summary.model_copy(update={"state": state, "purged": count})


def short_rule_name(rule: str) -> str:
    """`expect_column_values_to_be_unique:customer_no` → `be_unique(customer_no)`, for tables."""
    name, _, column = rule.partition(":")
    name = name.removeprefix("expect_column_values_to_").removeprefix("expect_")
    return f"{name}({column})" if column else name

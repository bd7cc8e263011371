"""Where everything lives in the object store: every key Kakunin writes or reads is built and parsed here.

The layout is part of the contract (architecture.md, "Storage layout"; lineage-manifest.md):
auditors' tools and DuckDB read these paths without Kakunin. Spelling a key in one place
keeps writers and readers from drifting, and keeps the S3 port to one module's worth of paths.
It imports only `kakunin.errors`, so every layer may use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from kakunin.errors import InputError

IDENTIFIER = r"^[a-z][a-z0-9_]{0,63}$"
BATCH_ID_PATTERN = r"^\d{8}T\d{12}Z-[0-9a-f]{8}$"

# ── zones and folders ────────────────────────────────────────────────────────────────
LANDING = "landing"
WORK = "work"
QUARANTINE = "quarantine"
CURATED = "curated"
MANIFESTS = "lineage/manifests"
RECEIPTS = "lineage/receipts"
MANIFEST_CHAIN = "lineage/chain"
AUDIT_CHAIN = "audit/log"
CERTIFICATES = "lineage/certificates"
CERTIFICATE_CHAIN = "lineage/certificates/chain"
HOLDS = "lineage/holds"
ERASURE_REQUESTS = "lineage/erasure"
RETENTION_JOURNAL = "journal/retention"
LOCKS = "locks"
PROVENANCE = "provenance"
GX_REPORTS = "reports/gx"
SUBJECTS = "subjects"  # the restricted zone of data subjects: keyed identifier digests, requests, lists
SUBJECT_INDEX = "subjects/index"
SUBJECT_REQUESTS = "subjects/requests"
SUPPRESSED = "subjects/suppressed"
STOPS = "subjects/stops"
CORRECTIONS = "lineage/corrections"
CORRECTION_CHAIN = "lineage/corrections/chain"
EXPORTS = "exports"  # purpose-bound exports held in the store: exports/<dataset>/<export_id>/
EXPORT_REGISTER = "lineage/exports"  # one receipt per export, written once: lineage/exports/<export_id>.json
AUDIT_REVIEWS = "audit/reviews"  # the daily review reports (kakunin_audit): audit/reviews/<report_id>.json
AUDIT_SIGN_OFFS = "audit/sign-offs"  # a reviewer's sign-off of a report: audit/sign-offs/<report_id>.json

# ── file names inside a batch's folders ──────────────────────────────────────────────
SUBMISSION_FILE = "_submission.json"
REJECTION_FILE = "rejection.json"
MANIFEST_FILE = "manifest.json"
EVIDENCE_INDEX = "evidence.json"
MANIFEST_PARQUET = "manifest.parquet"
COMMITS = "_commits"
_PART = "part-"
_PENDING = "_pending-"

BatchZone = Literal["landing", "work", "quarantine"]


def is_identifier(value: str) -> bool:
    return re.fullmatch(IDENTIFIER, value) is not None


def is_batch_id(value: str) -> bool:
    return re.fullmatch(BATCH_ID_PATTERN, value) is not None


@dataclass(frozen=True)
class BatchRef:
    """A batch, named `<dataset>/<batch_id>` where a string must carry it (DAG task arguments)."""

    dataset: str
    batch_id: str

    @classmethod
    def parse(cls, text: str) -> BatchRef:
        dataset, _, batch_id = text.partition("/")
        if not is_identifier(dataset) or not is_batch_id(batch_id):
            raise InputError(f"{text!r} is not a batch reference (<dataset>/<batch_id>)")
        return cls(dataset, batch_id)

    def __str__(self) -> str:
        return f"{self.dataset}/{self.batch_id}"

    def _in(self, zone: str, name: str) -> str:
        return f"{zone}/{self.dataset}/{self.batch_id}/{name}".rstrip("/")

    def landing(self, name: str = "") -> str:
        return self._in(LANDING, name)

    def work(self, name: str = "") -> str:
        return self._in(WORK, name)

    def quarantine(self, name: str = "") -> str:
        return self._in(QUARANTINE, name)

    @property
    def submission(self) -> str:
        return self.landing(SUBMISSION_FILE)

    @property
    def rejection(self) -> str:
        return self.quarantine(REJECTION_FILE)

    @property
    def manifest_prefix(self) -> str:
        return f"{MANIFESTS}/{self.dataset}/{self.batch_id}"

    @property
    def manifest_header(self) -> str:
        return f"{self.manifest_prefix}/{MANIFEST_FILE}"

    @property
    def manifest_parquet(self) -> str:
        return f"{self.manifest_prefix}/{MANIFEST_PARQUET}"

    @property
    def receipt(self) -> str:
        return f"{RECEIPTS}/{self.dataset}/{self.batch_id}.json"

    @property
    def commit(self) -> str:
        return f"{CURATED}/{self.dataset}/{COMMITS}/{self.batch_id}.json"

    def curated(self, month: str, *, pending: bool = False) -> str:
        """The batch's curated file for one expiry month; `pending` is the hidden staged name."""
        before, after = self.curated_around_month(pending=pending)
        return f"{before}{month}{after}"

    def curated_around_month(self, *, pending: bool = False) -> tuple[str, str]:
        """The curated key's text before and after the month, for building many keys at once (in Arrow)."""
        return f"{CURATED}/{self.dataset}/expiry=", f"/{_PENDING if pending else _PART}{self.batch_id}.parquet"

    def gx_docs(self, name: str = "") -> str:
        """The batch's GX Data Docs site (`index.html` is its front page)."""
        return self._in(GX_REPORTS, name)

    def audit_marker(self, action: str) -> str:
        """Marks that the batch's audit entry for `action` is being or has been written (exactly once)."""
        return self.work(f"audit-{action}.json")


def landed_evidence_name(sha256: str) -> str:
    """Where an evidence file sits in its batch's landing folder: by content, since people's file
    names (`契約書2026.pdf`) are not store keys."""
    return f"evidence/{sha256}"


def provenance_prefix(document_id: str) -> str:
    """Where an accepted document's own files are kept with the lineage."""
    return f"{PROVENANCE}/{document_id}"


def provenance_key(document_id: str, name: str) -> str:
    return f"{provenance_prefix(document_id)}/{name}"


def provenance_evidence_key(document_id: str, sha256: str) -> str:
    return provenance_key(document_id, f"evidence/{sha256}")


def provenance_evidence_index_key(document_id: str) -> str:
    """`evidence.json`: which evidence files the accepted document named, each by its content hash."""
    return provenance_key(document_id, EVIDENCE_INDEX)


# ── parsers: from a listed key back to what it names ─────────────────────────────────


def batch_prefix(zone: BatchZone | str, dataset: str = "") -> str:
    """The prefix to list one zone (or one dataset in it), ending in `/`."""
    return f"{zone}/{dataset}/" if dataset else f"{zone}/"


def parse_batch_key(key: str, zone: BatchZone | str) -> tuple[BatchRef, str] | None:
    """`<zone>/<dataset>/<batch_id>/<name...>` → (batch, name); None for any other key."""
    parts = key.split("/", 3)
    if len(parts) != 4 or parts[0] != zone or not is_identifier(parts[1]) or not is_batch_id(parts[2]):
        return None
    return BatchRef(parts[1], parts[2]), parts[3]


@dataclass(frozen=True)
class CuratedFile:
    """A curated Parquet file named by its key: published (`part-`) or staged (`_pending-`)."""

    key: str
    ref: BatchRef
    month: str
    pending: bool


def parse_curated_key(key: str) -> CuratedFile | None:
    """`curated/<dataset>/expiry=<YYYY-MM>/(part-|_pending-)<batch_id>.parquet`, or None."""
    parts = key.split("/")
    if len(parts) != 4 or parts[0] != CURATED or not parts[2].startswith("expiry="):
        return None
    name = parts[3].removesuffix(".parquet")
    if name == parts[3]:
        return None
    pending = name.startswith(_PENDING)
    batch_id = name.removeprefix(_PENDING if pending else _PART)
    if batch_id == name or not is_batch_id(batch_id):
        return None
    return CuratedFile(key, BatchRef(parts[1], batch_id), parts[2].removeprefix("expiry="), pending)


def parse_manifest_header_key(key: str) -> BatchRef | None:
    """`lineage/manifests/<dataset>/<batch_id>/manifest.json` → the batch, or None."""
    rest = key.removeprefix(f"{MANIFESTS}/")
    parts = rest.split("/")
    if rest == key or len(parts) != 3 or parts[2] != MANIFEST_FILE:
        return None
    return BatchRef(parts[0], parts[1])


def manifest_parquet_of(header_key: str) -> str:
    """The manifest.parquet that sits beside a manifest.json."""
    return header_key.removesuffix(MANIFEST_FILE) + MANIFEST_PARQUET


# ── chains (manifest, audit, certificate) ────────────────────────────────────────────


def chain_entry_key(prefix: str, sequence: int) -> str:
    return f"{prefix}/{sequence:012d}.json"


def chain_sequence(key: str) -> int:
    """The sequence number an entry key carries (`…/000000000042.json` → 42)."""
    return int(key.rsplit("/", 1)[1].removesuffix(".json"))


def is_chain_entry(prefix: str, key: str) -> bool:
    """True for `<prefix>/<digits>.json`, the chain's own entries (not a subfolder's)."""
    name = key.removeprefix(f"{prefix}/")
    return name != key and "/" not in name and name.endswith(".json") and name[:-5].isdigit()


# ── retention: certificates, journal, holds, erasure requests ───────────────────────


def certificate_key(run_id: str, *, open_: bool = False) -> str:
    return f"{CERTIFICATES}/{run_id}.open.json" if open_ else f"{CERTIFICATES}/{run_id}.json"


def certificate_records_key(run_id: str, *, closed: bool = False) -> str:
    """The purged-records list: the plan's (written with the open certificate), or, when the
    purge had to differ from the plan, what the closed certificate actually purged."""
    return f"{CERTIFICATES}/{run_id}.closed.records.parquet" if closed else f"{CERTIFICATES}/{run_id}.records.parquet"


def closed_certificate_run(key: str) -> str | None:
    """`lineage/certificates/<run_id>.json` (a closed certificate) → run id; None for any other key."""
    name = key.removeprefix(f"{CERTIFICATES}/")
    if name == key or "/" in name or not name.endswith(".json") or name.endswith(".open.json"):
        return None
    return name.removesuffix(".json")


def open_certificate_run(key: str) -> str | None:
    """`lineage/certificates/<run_id>.open.json` (a purge under way) → run id; None for any other key."""
    name = key.removeprefix(f"{CERTIFICATES}/")
    if name == key or "/" in name or not name.endswith(".open.json"):
        return None
    return name.removesuffix(".open.json")


def journal_prefix(run_id: str) -> str:
    return f"{RETENTION_JOURNAL}/{run_id}"


def journal_key(run_id: str, name: str) -> str:
    return f"{journal_prefix(run_id)}/{name}"


def journal_run(key: str) -> str | None:
    """`journal/retention/<run_id>/<name>` → run id, or None."""
    parts = key.removeprefix(f"{RETENTION_JOURNAL}/").split("/")
    return parts[0] if key.startswith(f"{RETENTION_JOURNAL}/") and len(parts) == 2 else None


def hold_key(hold_id: str, *, released: bool = False) -> str:
    return f"{HOLDS}/{hold_id}.released.json" if released else f"{HOLDS}/{hold_id}.json"


def erasure_request_key(request_id: str) -> str:
    return f"{ERASURE_REQUESTS}/{request_id}.json"


# ── data subjects (the `subjects/` zone) ──────────────────────────────────────────────


def subject_index_key(ref: BatchRef) -> str:
    """`subjects/index/<dataset>/<batch_id>.parquet`: the batch's keyed identifier digests → record ids."""
    return f"{SUBJECT_INDEX}/{ref.dataset}/{ref.batch_id}.parquet"


def parse_subject_index_key(key: str) -> BatchRef | None:
    """`subjects/index/<dataset>/<batch_id>.parquet` → its batch; None for any other key."""
    parts = key.removeprefix(f"{SUBJECT_INDEX}/").split("/")
    if key.startswith(f"{SUBJECT_INDEX}/") and len(parts) == 2 and parts[1].endswith(".parquet"):
        dataset, batch_id = parts[0], parts[1].removesuffix(".parquet")
        if is_identifier(dataset) and is_batch_id(batch_id):
            return BatchRef(dataset, batch_id)
    return None


def subject_request_key(request_id: str, *, closed: bool = False) -> str:
    return f"{SUBJECT_REQUESTS}/{request_id}.closed.json" if closed else f"{SUBJECT_REQUESTS}/{request_id}.json"


def suppression_key(request_id: str) -> str:
    return f"{SUPPRESSED}/{request_id}.json"


def stop_key(stop_id: str, *, resumed: bool = False) -> str:
    return f"{STOPS}/{stop_id}.resumed.json" if resumed else f"{STOPS}/{stop_id}.json"


def correction_key(ref: BatchRef, correction_id: str) -> str:
    """`lineage/corrections/<dataset>/<batch_id>/<correction_id>.json`: one correction of a record of the batch."""
    return f"{CORRECTIONS}/{ref.dataset}/{ref.batch_id}/{correction_id}.json"


# ── exports and the audit review ─────────────────────────────────────────────────────

EXPORT_DATA = "data.parquet"  # the released rows: the purpose's columns and each row's source record id
EXPORT_MANIFEST = "manifest.parquet"  # no personal data: source record id, batch, retention per row


def export_key(dataset: str, export_id: str, name: str) -> str:
    """`exports/<dataset>/<export_id>/<name>`: a file of one export held in the store."""
    return f"{EXPORTS}/{dataset}/{export_id}/{name}"


def export_receipt_key(export_id: str) -> str:
    """`lineage/exports/<export_id>.json`: the export's receipt in the export register (write-once)."""
    return f"{EXPORT_REGISTER}/{export_id}.json"


def review_key(report_id: str) -> str:
    return f"{AUDIT_REVIEWS}/{report_id}.json"


def sign_off_key(report_id: str) -> str:
    return f"{AUDIT_SIGN_OFFS}/{report_id}.json"


def object_id(key: str, folder: str, suffix: str = ".json") -> str | None:
    """`<folder>/<id><suffix>` → id (no further `/`, no `.` in the id); None for any other key."""
    name = key.removeprefix(f"{folder}/")
    if name == key or "/" in name or not name.endswith(suffix):
        return None
    ident = name.removesuffix(suffix)
    return ident if ident and "." not in ident else None


# ── leases ───────────────────────────────────────────────────────────────────────────


def lease_prefix(name: str) -> str:
    return f"{LOCKS}/{name}"


def lease_generation_key(name: str, generation: int) -> str:
    return f"{lease_prefix(name)}/{generation:010d}.json"


def intake_lease_name(ref: BatchRef) -> str:
    return f"intake/{ref.dataset}/{ref.batch_id}"


RETENTION_LEASE = "retention"


# ── listing and sweeping (retention, leases, leftovers) ─────────────────────────────


def folder_prefix(folder: str) -> str:
    """The prefix to list everything under a folder above (`HOLDS`, `journal_prefix(run)`, …), ending in `/`."""
    return f"{folder}/"


def batch_folder(ref: BatchRef, zone: BatchZone | str) -> str:
    """The prefix to list one batch's objects in a zone, ending in `/`."""
    return f"{zone}/{ref.dataset}/{ref.batch_id}/"


def split_batch_key(key: str, zone: BatchZone | str) -> tuple[BatchRef, str] | None:
    """Like `parse_batch_key`, but without checking the names: sweeps (quarantine retention,
    leftovers) must not pass over an object because its folder is oddly named (`_unknown`)."""
    parts = key.split("/", 3)
    if len(parts) != 4 or parts[0] != zone:
        return None
    return BatchRef(parts[1], parts[2]), parts[3]


def journal_audit_marker(run_id: str, action: str) -> str:
    """Where a retention run notes the audit log's head before logging `action` (`audit.prepare_once`)."""
    return journal_key(run_id, f"audit-{action}.json")


def placed_hold_id(key: str) -> str | None:
    """`lineage/holds/<hold_id>.json` (a placed hold) → hold id; None for a release or any other key."""
    name = key.removeprefix(f"{HOLDS}/")
    if name == key or "/" in name or not name.endswith(".json") or name.endswith(".released.json"):
        return None
    return name.removesuffix(".json")


def released_hold_id(key: str) -> str | None:
    """`lineage/holds/<hold_id>.released.json` (a hold's release) → hold id; None for any other key."""
    name = key.removeprefix(f"{HOLDS}/")
    if name == key or "/" in name or not name.endswith(".released.json"):
        return None
    return name.removesuffix(".released.json")


def erasure_request_id(key: str) -> str | None:
    """`lineage/erasure/<request_id>.json` → request id; None for any other key."""
    name = key.removeprefix(f"{ERASURE_REQUESTS}/")
    if name == key or "/" in name or not name.endswith(".json"):
        return None
    return name.removesuffix(".json")


def lease_name_of(key: str) -> str | None:
    """`locks/<name>/<generation>.json` → the lease's name; None for any other key."""
    name, _, file = key.removeprefix(f"{LOCKS}/").rpartition("/")
    if not key.startswith(f"{LOCKS}/") or not name or not file.endswith(".json"):
        return None
    return name


def intake_leases_prefix() -> str:
    """The prefix to list every intake lease's generations (see `intake_lease_name`), ending in `/`."""
    return f"{LOCKS}/intake/"


def intake_lease_batch(name: str) -> BatchRef | None:
    """`intake/<dataset>/<batch_id>` (an intake lease's name) → the batch; None for any other lease."""
    parts = name.split("/")
    if len(parts) != 3 or parts[0] != "intake":
        return None
    return BatchRef(parts[1], parts[2])


# ── checkpoints ──────────────────────────────────────────────────────────────────────

CHECKPOINTS = "lineage/checkpoints"


def checkpoint_key(sequence: int) -> str:
    """Where the store's log keeps signed checkpoint `sequence` (a hash chain, like the others)."""
    return chain_entry_key(CHECKPOINTS, sequence)


def is_rejection_key(key: str) -> bool:
    """True for `quarantine/<dataset>/<batch_id>/rejection.json`, a rejected batch's record."""
    split = split_batch_key(key, QUARANTINE)
    return split is not None and split[1] == REJECTION_FILE


# ── GX Data Docs: one site per dataset, and each batch's validation result beside it ───


def gx_site_key(dataset: str, name: str = "") -> str:
    """A file of the dataset's GX Data Docs site; `index.html` lists every batch's page."""
    return f"{GX_REPORTS}/{dataset}/{name}".rstrip("/")


def gx_validations_prefix(dataset: str) -> str:
    """The prefix to list every stored validation result of a dataset, ending in `/`."""
    return f"{GX_REPORTS}/{dataset}/results/"


def gx_validation_key(ref: BatchRef) -> str:
    """A batch's GX validation result, counts only (`kakunin.intake.data_docs.ValidationRecord`)."""
    return f"{gx_validations_prefix(ref.dataset)}{ref.batch_id}.json"

"""`kakunin lineage verify`: is the lineage intact? Depends only on the formats and the store.

It checks, and reports every failure with where it is:
- the manifest chain and the audit chain: contiguous sequences, each link naming the hash
  of the one before, each link pinning its header's hash;
- every file a header names (manifest.parquet, curated files, receipt, provenance
  document) still has the SHA-256 the header recorded;
- every record id in a manifest is in the curated store, or named by a closed purge
  certificate; no curated record lacks a manifest row;
- a curated file rewritten by a correction (訂正, `kakunin.lineage.corrections`) is expected
  as corrected: the corrections chain is walked like the others, and a correction whose file
  matches neither side is reported;
- no receipt record is gone before its `keep_until`;
- the decision records (rejections, holds, hold releases, open purge certificates) match
  the audit entries that recorded them, both ways, and every evidence file and commit
  record matches the hash its manifest header pinned;
- with the HMAC key (keyed mode), every chain entry's seal (`kakunin.lineage.seal`): without
  it, a writer who re-hashes everything up the chain passes every check above;
- the subject index holds only live records of its batch, none purged; keyed with the contracts,
  exactly the rows their curated rows give (`lineage.subject_index_check`);
- every export held in the store is what its receipt released, as purges and corrections left it,
  with no purged record in it and no file outside a receipt (`lineage.export_check`);
- nothing a crashed run left behind (a half-written temporary, a staged file or work file of
  a batch no longer in landing) holds data outside the lineage;
- on a store that can lock (S3 with Object Lock), every object in the lineage and audit zones
  carries its lock (`lineage.unlocked`): an object written without one, or a bucket without
  Object Lock, could be deleted or replaced by anyone with write access. A lock that ran out
  (a receipt past its keep_until) is not missing. A folder cannot lock: nothing is reported.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from functools import partial
from typing import TYPE_CHECKING, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from kakunin.errors import KakuninError
from kakunin.hashing import sha256_bytes
from kakunin.layout import (
    AUDIT_CHAIN,
    CERTIFICATE_CHAIN,
    CERTIFICATES,
    CORRECTION_CHAIN,
    CURATED,
    MANIFEST_CHAIN,
    BatchRef,
    certificate_key,
    chain_sequence,
    closed_certificate_run,
    folder_prefix,
    manifest_parquet_of,
    open_certificate_run,
    provenance_evidence_key,
)
from kakunin.lineage import seal
from kakunin.lineage.chain import Chain
from kakunin.lineage.columns import read_columns
from kakunin.lineage.decisions import verify_decisions
from kakunin.lineage.export_check import check_exports
from kakunin.lineage.formats import (
    AuditAction,
    AuditEntry,
    Certificate,
    CertificateLink,
    ChainLink,
    Commit,
    EvidenceIndexEntry,
    ManifestHeader,
)
from kakunin.lineage.problems import Problem, Problems, unsafe_keys
from kakunin.lineage.record_digests import ContractFor, recheck_record_digests
from kakunin.lineage.rowkeys import arrow_of, dictionary_codes, numpy_bools
from kakunin.lineage.subject_index_check import check_subject_index
from kakunin.storage import ObjectStore, load, object_sha256

if TYPE_CHECKING:
    from kakunin.lineage.checkpoint import Anchors


class VerifyReport(BaseModel):
    intact: bool
    mode: Literal["keyless", "keyed"] = Field(
        default="keyless", description="keyed: every chain entry's seal was checked with KAKUNIN_HMAC_KEY"
    )
    legacy_entries: dict[str, int] = Field(
        default={}, description="keyed mode: per chain, the unsealed entries before its first sealed one"
    )
    certificates: int = 0
    corrections: int = Field(default=0, description="corrections (訂正) linked in their chain, followed")
    manifests: int
    audit_entries: int
    records: int
    curated_files: int
    problems: list[Problem]
    records_rehashed: int | None = Field(
        default=None, description="keyed with the contracts: live records whose record_digest was re-derived"
    )
    anchored_by: list[str] = Field(
        default=[], description="the signed checkpoints the chain tails were checked against; empty: none"
    )
    exports: int = Field(default=0, description="export receipts checked (check `exports`)")


@dataclass
class _State:
    today: date
    problems: Problems = field(default_factory=Problems)
    manifest_ids: list[pa.Array] = field(default_factory=list)
    manifest_files: list[pa.ChunkedArray | None] = field(default_factory=list)  # each row's curated_file, encoded
    ids_by_manifest: dict[str, pa.Array] = field(default_factory=dict)  # manifest.parquet key → its record ids
    expected_files: dict[str, str] = field(default_factory=dict)
    purged_ids: list[pa.Array] = field(default_factory=list)
    file_updates: dict[str, str | None] = field(default_factory=dict)  # key → hash after a purge, None if deleted
    certified_receipts: set[str] = field(default_factory=set)
    linked_certificates: list[str] = field(default_factory=list)
    linked_headers: dict[str, str] = field(default_factory=dict)
    key: bytes | None = None
    allow_legacy: bool = False
    legacy: dict[str, int] = field(default_factory=dict)

    def fail(self, check: str, where: str, message: str) -> None:
        self.problems.fail(check, where, message)


def _file_sha(store: ObjectStore, key: str) -> str | None:
    return object_sha256(store, key) if store.exists(key) else None


def _failunsafe_keys(state: _State, check: str, where: str, keys: list[str]) -> bool:
    """Record one problem per unsafe key named by the object at `where`; True when there was any."""
    bad = unsafe_keys(keys)
    for key in bad:
        state.fail(check, where, f"names an unsafe store key {key[:200]!r}: it was altered")
    return bool(bad)


def _walk_chain(store: ObjectStore, prefix: str, state: _State) -> Iterator[tuple[str, bytes, dict[str, object]]]:
    """Yield (key, bytes, parsed) for each entry, recording breaks in order or linkage."""
    previous_sha: str | None = None
    expected = 1
    sealed = False
    for key, data in Chain(store, prefix).entries():
        sequence = chain_sequence(key)
        if sequence != expected:
            state.fail("chain", key, f"expected entry {expected} next, found {sequence}: an entry is missing")
            expected = sequence
        try:
            parsed = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError):
            parsed = None
        if not isinstance(parsed, dict):
            state.fail("chain", key, "entry is not a JSON object")
            previous_sha, expected = sha256_bytes(data), expected + 1
            continue
        if parsed.get("sequence") != sequence:
            state.fail("chain", key, f"entry says it is number {parsed.get('sequence')}, but is stored as {sequence}")
        if parsed.get("previous") != previous_sha:
            state.fail("chain", key, "does not name the hash of the entry before it: changed, removed or reordered")
        previous_sha, expected = sha256_bytes(data), expected + 1
        sealed = _check_seal(state, prefix, key, parsed, sealed=sealed)
        yield key, data, parsed
    _report_legacy(state, prefix)


def _check_seal(state: _State, prefix: str, key: str, parsed: dict[str, object], *, sealed: bool) -> bool:
    """Keyed mode: check the entry's seal; returns whether the chain's sealing has begun.

    Unsealed entries before the first sealed one are legacy (written before seals, or by a
    writer without the key); one after it is a problem, since stripping `mac` fields and
    re-hashing is exactly what a keyless forger would do.
    """
    if state.key is None:
        return sealed
    if seal.MAC_FIELD not in parsed:
        if sealed:
            state.fail(
                "seal", key, "unsealed entry after the chain's sealing began: written or re-hashed without the key"
            )
        else:
            state.legacy[prefix] = state.legacy.get(prefix, 0) + 1
        return sealed
    why = seal.check(parsed, state.key)
    if why is not None:
        state.fail("seal", key, why)
    return True


def _report_legacy(state: _State, prefix: str) -> None:
    """Keyed mode: a chain's unsealed prefix is a problem unless the auditor accepts legacy entries."""
    count = state.legacy.get(prefix, 0)
    if state.key is not None and count and not state.allow_legacy:
        state.fail(
            "seal",
            prefix,
            f"{count} unsealed entr{'y' if count == 1 else 'ies'} before sealing began (or the whole chain "
            "stripped of its seals); if the store predates kakunin.seal/v1, check the count and pass --allow-legacy",
        )


def _verify_manifests(store: ObjectStore, state: _State) -> int:
    count = 0
    previous_header_sha: str | None = None
    for key, _, parsed in _walk_chain(store, MANIFEST_CHAIN, state):
        count += 1
        try:
            link = ChainLink.model_validate(parsed)
        except ValidationError:
            state.fail("chain", key, "not a manifest chain link")
            continue
        if _failunsafe_keys(state, "chain", key, [link.header_key]):
            previous_header_sha = link.header_sha256
            continue
        if not store.exists(link.header_key):
            state.fail("manifest", link.header_key, "manifest header is missing")
            previous_header_sha = link.header_sha256
            continue
        data = store.get_bytes(link.header_key)
        if sha256_bytes(data) != link.header_sha256:
            state.fail("manifest", link.header_key, "header changed since it was linked (SHA-256 differs)")
        try:
            header = ManifestHeader.model_validate_json(data)
        except ValidationError:
            state.fail("manifest", link.header_key, "header is not a valid kakunin.manifest/v1 document")
            previous_header_sha = link.header_sha256
            continue
        if header.previous != previous_header_sha:
            state.fail("manifest", link.header_key, "header does not name the previous header's hash")
        if header.sequence != link.sequence:
            state.fail("manifest", link.header_key, f"header says sequence {header.sequence}, link {link.sequence}")
        previous_header_sha = link.header_sha256
        state.linked_headers[link.header_key] = link.header_sha256
        named = [header.provenance_document.key, header.receipt.key, *(f.key for f in header.curated_files)]
        if _failunsafe_keys(state, "manifest", link.header_key, named):
            continue
        try:
            _verify_header_files(store, header, link.header_key, state)
            _verify_sealed_files(store, header, link.header_key, state)
        except KakuninError as exc:
            state.fail("manifest", link.header_key, f"names something that cannot be checked: {exc}")
    return count


def _verify_header_files(store: ObjectStore, header: ManifestHeader, where: str, state: _State) -> None:
    manifest_key = manifest_parquet_of(where)
    actual = _file_sha(store, manifest_key)
    if actual is None:
        state.fail("manifest", manifest_key, "manifest.parquet is missing")
    elif actual != header.manifest_parquet_sha256:
        state.fail("manifest", manifest_key, "manifest.parquet changed (SHA-256 differs from its header)")
    else:
        with store.open_input(manifest_key) as handle:
            rows = read_columns(handle, ["record_id"], optional=("curated_file",), encoded=True)
        state.manifest_ids.append(rows.column("record_id").combine_chunks())
        state.ids_by_manifest[manifest_key] = state.manifest_ids[-1]
        state.manifest_files.append(rows.column("curated_file") if "curated_file" in rows.column_names else None)
    actual = _file_sha(store, header.provenance_document.key)
    if actual != header.provenance_document.sha256:
        problem = "missing" if actual is None else "changed (SHA-256 differs from the header)"
        state.fail("file", header.provenance_document.key, f"provenance document {problem}")
    actual = _file_sha(store, header.receipt.key)
    if actual is None and header.receipt_keep_until >= state.today:
        state.fail(
            "receipt", header.receipt.key, f"receipt record removed before its keep_until {header.receipt_keep_until}"
        )
    elif actual is None and header.receipt.key not in state.certified_receipts:
        state.fail("receipt", header.receipt.key, "receipt record removed, and no closed purge certificate names it")
    elif actual is not None and actual != header.receipt.sha256:
        state.fail("receipt", header.receipt.key, "receipt record changed (SHA-256 differs from the header)")
    commit_at = BatchRef(header.dataset, header.batch_id).commit
    if not store.exists(commit_at):
        state.fail("commit", commit_at, "the batch's commit record is missing")
    else:
        try:
            commit = load(store, commit_at, Commit)
            if commit.files != header.curated_files:
                state.fail("commit", commit_at, "the commit record does not name the files its manifest header names")
        except ValidationError:
            state.fail("commit", commit_at, "not a valid commit record")
    for stored in header.curated_files:
        if stored.key not in state.file_updates:
            state.expected_files[stored.key] = stored.sha256
        elif (after := state.file_updates[stored.key]) is not None:
            state.expected_files[stored.key] = after


def _verify_sealed_files(store: ObjectStore, header: ManifestHeader, where: str, state: _State) -> None:
    """The evidence index, every evidence file it lists, and the commit record, as the header pinned them.

    Headers written before these were sealed carry neither field: nothing more is checked for them.
    """
    sealed = [s.key for s in (header.evidence_index, header.commit) if s is not None]
    if _failunsafe_keys(state, "manifest", where, sealed):
        return
    if header.commit is not None:
        actual = _file_sha(store, header.commit.key)
        if actual is not None and actual != header.commit.sha256:  # a missing one is reported above
            state.fail("commit", header.commit.key, "commit record changed since publish (SHA-256 differs)")
    index = header.evidence_index
    if index is None:
        return
    data = store.get_bytes(index.key) if store.exists(index.key) else None
    if data is None or sha256_bytes(data) != index.sha256:
        problem = "missing" if data is None else "changed (SHA-256 differs from the header)"
        state.fail("evidence", index.key, f"evidence index {problem}")
        return
    try:
        lines = _EVIDENCE_INDEX.validate_json(data)
    except ValidationError:
        state.fail("evidence", index.key, "not a valid evidence index")
        return
    for line in lines:
        key = provenance_evidence_key(header.provenance_document_id, line.sha256)
        actual = _file_sha(store, key)
        if actual is None:
            state.fail("file", key, f"evidence file {line.id} is missing")
        elif actual != line.sha256:
            state.fail("file", key, f"evidence file {line.id} changed (its SHA-256 is no longer its name)")


_EVIDENCE_INDEX = TypeAdapter(list[EvidenceIndexEntry])


def _verify_curated(store: ObjectStore, state: _State) -> tuple[int, int]:
    """Curated files match their headers; records and manifest rows match both ways."""
    curated_ids: dict[str, pa.ChunkedArray] = {}  # as read, a chunk per row group: millions of ids not copied whole
    files = 0
    for key in store.list_keys(folder_prefix(CURATED)):
        name = key.rsplit("/", 1)[1]
        if not name.endswith(".parquet") or name.startswith(("_", ".")):
            continue
        files += 1
        if key not in state.expected_files:
            state.fail("curated", key, "curated file that no manifest names (or that a certificate says was deleted)")
        actual = _file_sha(store, key)
        if key in state.expected_files and actual != state.expected_files[key]:
            state.fail("curated", key, "changed since it was published (SHA-256 differs from its manifest header)")
        try:
            with store.open_input(key) as handle:
                curated_ids[key] = read_columns(handle, ["record_id"]).column("record_id")
        except (pa.ArrowException, OSError):
            state.fail("curated", key, "not a readable Parquet file")
    for key in state.expected_files:
        if not store.exists(key):
            state.fail("curated", key, "a published file is missing and no closed purge certificate names it")
    # every id in one array (`combine_chunks`) only where a set comparison needs it: a copy of millions of ids
    in_manifests = pa.chunked_array(state.manifest_ids or [pa.nulls(0, pa.string())], pa.string())
    chunks = [chunk for ids in curated_ids.values() for chunk in ids.chunks]
    in_curated = pa.chunked_array(chunks or [pa.nulls(0, pa.string())], pa.string())
    purged = pa.chunked_array(state.purged_ids or [pa.nulls(0, pa.string())], pa.string()).combine_chunks()
    same = _same_rows(state, curated_ids, purged)
    if not same:
        in_manifests = in_manifests.combine_chunks()
    if not same or len(purged):
        in_curated = in_curated.combine_chunks()
    if same:  # every manifest row is purged or in its curated file, and every curated row is a manifest row
        missing = orphans = pa.nulls(0, pa.string())
    else:
        accounted = pc.or_(pc.is_in(in_manifests, value_set=in_curated), pc.is_in(in_manifests, value_set=purged))
        missing = pc.filter(in_manifests, pc.invert(accounted))
    resurrected = pc.filter(in_curated, pc.is_in(in_curated, value_set=purged)) if len(purged) else purged
    if len(resurrected):
        state.fail(
            "records",
            folder_prefix(CURATED),
            f"{len(resurrected)} record(s) a closed certificate purged are still in the curated store "
            f"(first: {resurrected[0].as_py()})",
        )
    if len(missing):
        state.fail(
            "records",
            folder_prefix(CURATED),
            f"{len(missing)} record(s) in manifests are not in the curated store and no closed purge certificate "
            f"names them (first: {missing[0].as_py()})",
        )
    if not same:
        orphans = pc.filter(in_curated, pc.invert(pc.is_in(in_curated, value_set=in_manifests)))
    if len(orphans):
        state.fail(
            "records",
            folder_prefix(CURATED),
            f"{len(orphans)} curated record(s) have no manifest row (first: {orphans[0].as_py()})",
        )
    return len(in_manifests), files


def _same_rows(state: _State, curated: dict[str, pa.ChunkedArray], purged: pa.Array) -> bool:
    """Whether each curated file holds exactly the record ids its manifest rows name, in their order, but
    for the purged ones.

    That is how intake writes them and how purges leave them: then the manifests and the curated
    store account for each other row by row, with element-wise comparisons instead of hash lookups
    of every id (most of a keyless verify's time). When anything differs, the caller's set
    comparison finds and reports what.
    """
    expected: dict[str, list[pa.Array]] = {}
    for ids, files in zip(state.manifest_ids, state.manifest_files, strict=True):
        live = numpy_bools(pc.invert(pc.is_in(ids, value_set=purged))) if len(purged) else None
        by_file = None if files is None else _ids_by_file(ids, files, live)
        if by_file is None:
            return False
        for name, part in by_file.items():
            expected.setdefault(name, []).append(part)
    if expected.keys() != curated.keys():
        return False
    for name, parts in expected.items():
        want, got = parts[0] if len(parts) == 1 else pa.concat_arrays(parts), curated[name]
        if want.type != pa.string() or got.type != pa.string() or want.null_count or got.null_count:
            return False
        if len(want) != len(got) or not pc.all(pc.equal(want, got)).as_py():
            return False
    return True


def _ids_by_file(ids: pa.Array, files: pa.ChunkedArray, live: np.ndarray | None) -> dict[str, pa.Array] | None:
    """A manifest's record ids per curated file its rows name, in row order (only the `live` rows when given);
    None if it cannot tell (a null)."""
    if not pa.types.is_dictionary(files.type) or files.null_count or len(ids) != len(files) or ids.null_count:
        return None
    codes = [(dictionary_codes(chunk.indices), chunk.dictionary.to_pylist()) for chunk in files.chunks]
    out: dict[str, pa.Array] = {}
    for name in {name for _, names in codes for name in names}:
        chosen = np.concatenate(
            [
                indices == names.index(name) if name in names else np.zeros(len(indices), np.bool_)
                for indices, names in codes
            ]
        )
        if live is not None:
            chosen &= live
        part = ids if chosen.all() else ids.filter(arrow_of(chosen))  # all of them: not copied
        if len(part):
            out[str(name)] = part
    return out


def _verify_certificates(store: ObjectStore, state: _State) -> int:
    """Closed certificates in chain order: what they destroyed and rewrote is then expected."""
    count = 0
    for key, _, parsed in _walk_chain(store, CERTIFICATE_CHAIN, state):
        count += 1
        try:
            link = CertificateLink.model_validate(parsed)
        except ValidationError:
            state.fail("chain", key, "not a certificate chain link")
            continue
        if _failunsafe_keys(state, "chain", key, [link.certificate_key]):
            continue
        state.linked_certificates.append(link.certificate_key)
        if not store.exists(link.certificate_key):
            state.fail("certificate", link.certificate_key, "purge certificate is missing")
            continue
        data = store.get_bytes(link.certificate_key)
        if sha256_bytes(data) != link.certificate_sha256:
            state.fail("certificate", link.certificate_key, "certificate changed since it was closed (SHA-256 differs)")
        try:
            certificate = Certificate.model_validate_json(data)
        except ValidationError:
            state.fail("certificate", link.certificate_key, "not a valid purge certificate")
            continue
        named = [
            certificate.records.key,
            *(a.key for a in certificate.files),
            *(r.key for r in certificate.receipts_removed),
        ]
        if _failunsafe_keys(state, "certificate", link.certificate_key, named):
            continue
        if _file_sha(store, certificate.records.key) != certificate.records.sha256:
            state.fail("certificate", certificate.records.key, "purged-records list missing or changed")
        else:
            with store.open_input(certificate.records.key) as handle:
                state.purged_ids.append(read_columns(handle, ["record_id"]).column("record_id").combine_chunks())
        for action in certificate.files:
            state.file_updates[action.key] = action.sha256_after if action.action == "rewrite" else None
        for replanned in certificate.replanned:  # changed by another run before this one came to it
            state.file_updates[replanned.key] = replanned.sha256_found
        state.certified_receipts.update(r.key for r in certificate.receipts_removed)
    keys = set(store.list_keys(f"{CERTIFICATES}/"))
    linked = set(state.linked_certificates)
    for key in sorted(k for k in keys if closed_certificate_run(k) is not None):
        if key not in linked:
            state.fail(
                "certificate", key, "a closed purge certificate is not linked into the chain (the next run links it)"
            )
    for key in sorted(keys):
        run_id = open_certificate_run(key)
        if run_id is not None and certificate_key(run_id) not in keys:
            state.fail(
                "certificate", key, "a purge was interrupted: its certificate is still open (the next run finishes it)"
            )
    return count


def _verify_corrections(store: ObjectStore, state: _State) -> int:
    """Corrections (訂正): after the certificates and manifests set each file's expected hash."""
    from kakunin.lineage.corrections import check_corrections

    walked = ((key, parsed) for key, _, parsed in _walk_chain(store, CORRECTION_CHAIN, state))
    return check_corrections(
        store, walked, state.expected_files, state.problems, actual_sha=lambda key: _file_sha(store, key)
    )


def _verify_audit(store: ObjectStore, state: _State) -> int:
    count = 0
    for key, _, parsed in _walk_chain(store, AUDIT_CHAIN, state):
        count += 1
        try:
            entry = AuditEntry.model_validate(parsed)
        except ValidationError:
            state.fail("audit", key, "not a valid audit entry")
            continue
        manifest = entry.detail.get("manifest")
        published = entry.action == AuditAction.PUBLISH and isinstance(manifest, str)
        if published and state.linked_headers.get(str(manifest)) != entry.detail.get("manifest_sha256"):
            state.fail(
                "audit",
                key,
                f"records the publication of {manifest}, which the manifest chain no longer holds as published",
            )
    return count


def _verify_no_leftovers(store: ObjectStore, state: _State) -> None:
    """Data a crashed run left outside the lineage: no manifest names it, so nothing else would purge it."""
    from kakunin.leftovers import find_leftovers

    for leftover in find_leftovers(store, now=datetime.combine(state.today, time.min, tzinfo=UTC)):
        if not leftover.holds_data:
            continue
        state.fail(
            "leftover",
            leftover.key,
            f"{leftover.message}; it can hold personal data outside the lineage "
            "(the next intake or retention run removes it)",
        )


UNLOCKED = "lineage.unlocked"  # the problem's check: `kakunin.codes.ReasonCode.LINEAGE_UNLOCKED`
WRITE_ONCE_PREFIXES = (folder_prefix(MANIFEST_CHAIN.partition("/")[0]), folder_prefix(AUDIT_CHAIN.partition("/")[0]))


def _verify_locks(store: ObjectStore, state: _State) -> None:
    """Every lineage and audit object is write-once where the store can lock: report what lacks its lock."""
    as_of = datetime.combine(state.today, time.min, tzinfo=UTC)
    for prefix in WRITE_ONCE_PREFIXES:
        unlocked = store.unlocked_keys(prefix, as_of)
        if unlocked is None:
            return  # a store that cannot lock (a folder)
        missing = store.lock_missing(prefix)
        if missing is not None:
            state.fail(UNLOCKED, prefix, f"{missing}; {len(unlocked)} object(s) there are unlocked")
            continue
        for key in unlocked:
            state.fail(
                UNLOCKED,
                key,
                "carries no Object Lock (no retention, no legal hold): it was written without its lock, "
                "so anyone with write access could delete it",
            )


class _Awaited(Mapping[str, pa.Array]):
    """The manifests' record ids as `_verify_manifests` reads them, for the index check on its own thread:
    asked before they are all read, it waits until they are."""

    def __init__(self, ids: dict[str, pa.Array], ready: threading.Event) -> None:
        self._ids, self._ready = ids, ready

    def __getitem__(self, key: str) -> pa.Array:
        self._ready.wait()
        return self._ids[key]

    def __iter__(self) -> Iterator[str]:
        self._ready.wait()
        return iter(self._ids)

    def __len__(self) -> int:
        self._ready.wait()
        return len(self._ids)


def _quiet(done: int, total: int, label: str) -> None:
    """No progress wanted."""


def verify(
    store: ObjectStore,
    *,
    today: date,
    key: bytes | None = None,
    allow_legacy: bool = False,
    anchors: Anchors | None = None,
    contract_for: ContractFor | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> VerifyReport:
    """Check every chain, file and record; the report lists every problem found.

    With `key` (KAKUNIN_HMAC_KEY) every chain entry's seal is checked too: only that detects
    a writer who re-hashed the store. `allow_legacy` accepts each chain's unsealed prefix
    (a store written before seals); the report counts it either way. `anchors` (signed
    checkpoints) also catch what the chains cannot: their newest entries removed. With `key` and
    `contract_for` (the dataset contracts) every live record's `record_digest` is re-derived too.
    `progress(done, total, label)` (the contract of `kakunin.progress`) hears as each check starts.
    """
    from kakunin.lineage.checkpoint import check_anchors

    state = _State(today=today, key=key, allow_legacy=allow_legacy)
    tell = progress or _quiet
    rehashing = key is not None and contract_for is not None
    total = 7 if rehashing else 6
    tell(0, total, "checkpoints")
    anchor_problems, anchored_by = check_anchors(store, anchors)
    tell(1, total, "purge certificates")
    certificates = _verify_certificates(store, state)
    purged = pa.chunked_array(state.purged_ids or [pa.nulls(0, pa.string())], pa.string()).combine_chunks()
    manifests_read = threading.Event()
    index_problems = Problems()
    index_check = partial(
        check_subject_index,
        store,
        index_problems,
        purged=purged,
        key=key,
        contract_for=contract_for,
        manifest_ids=_Awaited(state.ids_by_manifest, manifests_read),
    )
    # Keyless, the index check (reading millions of index ids and finding each in its manifest, in
    # Arrow and numpy, which release the GIL) runs on a second core beside the checks below; its
    # problems are reported in their place after them all the same. Keyed, it runs there in turn.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kakunin-verify-index") as pool:
        indexed = pool.submit(index_check) if not rehashing else None
        try:
            tell(2, total, "manifests")
            manifests = _verify_manifests(store, state)
        finally:
            manifests_read.set()
        corrections = _verify_corrections(store, state)
        tell(3, total, "curated files")
        records, files = _verify_curated(store, state)
        tell(4, total, "audit log")
        audit_entries = _verify_audit(store, state)
        verify_decisions(store, state.problems)
        tell(5, total, "leftovers")
        _verify_no_leftovers(store, state)
        _verify_locks(store, state)
        if indexed is None:
            index_check()
        else:
            indexed.result()
    state.problems += index_problems
    exports = check_exports(store, state.problems)
    rehashed = None
    if key is not None and contract_for is not None:
        tell(6, total, "record digests")
        rehashed = recheck_record_digests(store, key, contract_for, state.problems)
    tell(total, total, "done")
    state.problems += anchor_problems
    return VerifyReport(
        intact=not state.problems,
        mode="keyless" if key is None else "keyed",
        legacy_entries=dict(state.legacy) if key is not None else {},
        certificates=certificates,
        corrections=corrections,
        manifests=manifests,
        audit_entries=audit_entries,
        records=records,
        curated_files=files,
        problems=state.problems,
        anchored_by=anchored_by,
        records_rehashed=rehashed,
        exports=exports,
    )

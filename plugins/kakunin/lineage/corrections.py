"""Corrections (訂正, APPI Art. 34): the format, its chain, and how verify and trace follow them.

A correction rewrites one curated record in place. The file's SHA-256 then differs from the
one its manifest header pinned, and the record's `record_digest` from its manifest row, so
without this record verify would call the change tampering. Each correction is written to
`lineage/corrections/<dataset>/<batch_id>/<correction_id>.json` and linked, in order, in the
chain `lineage/corrections/chain` (sealed like the other chains). It names the columns
changed, never their values: the old and new record digests and the file's hash before and
after are what an auditor checks.

Composition with purges: a purge certificate sets a file's expected hash (last wins); a
correction then applies only when the expected hash is its `sha256_before` (the correction
came after the purge); a correction a later purge already accounts for (the purge found the
corrected file) is not applied again. This module imports no writer: verify and trace use it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kakunin.hashing import sha256_bytes
from kakunin.layout import CORRECTION_CHAIN, CORRECTIONS, folder_prefix
from kakunin.lineage.chain import Chain, closed_certificates
from kakunin.lineage.formats import ExportRecall
from kakunin.lineage.problems import Problems, unsafe_keys
from kakunin.storage import ObjectStore

CORRECTION_KIND = "kakunin.correction/v1"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class FileChange(_Record):
    """A file a correction rewrote, with its SHA-256 before and after."""

    key: str
    sha256_before: str
    sha256_after: str


class Correction(_Record):
    """One corrected record: which columns changed (names only), and the hashes that let verify follow it."""

    kind: Literal["kakunin.correction/v1"] = "kakunin.correction/v1"
    correction_id: str
    record_id: str
    dataset: str
    batch_id: str
    columns: list[str] = Field(description="the columns changed; never their values")
    record_digest_before: str
    record_digest_after: str
    curated_file: FileChange
    subject_index: FileChange | None = Field(
        default=None,
        description="an identifier column changed: the batch's subject index, whose rows of this record were "
        "replaced by the new digests; None when no identifier changed (or the batch has no index)",
    )
    identifiers_changed: bool = False
    exports: list[FileChange] = Field(
        default=[],
        description="data files of held exports (exports/<dataset>/<export_id>/data.parquet) that carried a "
        "corrected column of this record and were rewritten with the new value",
    )
    exports_recall: list[ExportRecall] = Field(
        default=[],
        description="delivered copies of those exports, outside the store, still holding the old value: to recall",
    )
    reason: str = Field(description="why, as staff recorded it (a reference, never personal data)")
    request_id: str | None = Field(default=None, description="the subject request (correct) this answers")
    actor: str
    corrected_at: datetime


class CorrectionLink(_Record):
    """lineage/corrections/chain/<sequence>.json: orders the corrections and pins each one's hash."""

    sequence: int
    previous: str | None
    correction_key: str
    correction_sha256: str
    mac: str | None = Field(
        default=None,
        description="kakunin.seal/v1:<hex>: HMAC-SHA256 of this entry without `mac` under a key derived from "
        "KAKUNIN_HMAC_KEY (lineage/seal.py); absent when written without the key",
    )


def linked_corrections(store: ObjectStore) -> list[Correction]:
    """Every correction the chain links, in chain order; one that is missing or unreadable is passed by
    (verify reports it)."""
    found = []
    for _, data in Chain(store, CORRECTION_CHAIN).entries():
        try:
            link = CorrectionLink.model_validate_json(data)
            if unsafe_keys([link.correction_key]) or not store.exists(link.correction_key):
                continue
            found.append(Correction.model_validate_json(store.get_bytes(link.correction_key)))
        except ValidationError:
            continue
    return found


def corrections_of(store: ObjectStore, record_id: str) -> list[Correction]:
    """The corrections of one record, oldest first."""
    return [c for c in linked_corrections(store) if c.record_id == record_id]


def corrected_digests(corrections: Iterable[Correction]) -> dict[str, str]:
    """record id → the digest its latest correction gave it (what keyed re-derivation must now find)."""
    return {c.record_id: c.record_digest_after for c in corrections}


def correction_files(store: ObjectStore) -> set[str]:
    """Every correction document in the store (linked or not)."""
    chain = folder_prefix(CORRECTION_CHAIN)
    return {k for k in store.list_keys(folder_prefix(CORRECTIONS)) if k.endswith(".json") and not k.startswith(chain)}


def check_corrections(
    store: ObjectStore,
    entries: Iterable[tuple[str, dict[str, object]]],
    expected_files: dict[str, str],
    problems: Problems,
    *,
    actual_sha: Callable[[str], str | None],
) -> int:
    """Verify's step: each linked correction intact, and applied to `expected_files` where it follows.

    `entries` are the chain's parsed entries (verify walks the chain: order, links, seals).
    Returns how many corrections were checked.
    """
    linked: set[str] = set()
    corrections = []
    count = 0
    for key, parsed in entries:
        count += 1
        if (correction := _linked(store, key, parsed, problems, linked)) is not None:
            corrections.append(correction)
    accounted = _seen_by_purges(store)
    for correction in corrections:  # a later correction or purge that found this one's result
        accounted.setdefault(correction.curated_file.key, set()).add(correction.curated_file.sha256_before)
    last_by: dict[str, Correction] = {}
    for correction in corrections:
        change = correction.curated_file
        if expected_files.get(change.key) == change.sha256_before:
            expected_files[change.key] = change.sha256_after
            last_by[change.key] = correction
        elif change.sha256_after not in accounted.get(change.key, set()):
            problems.fail(
                "correction",
                change.key,
                f"correction {correction.correction_id} rewrote this file from a state the lineage never had "
                "there, and nothing after it found its result: the file or the correction was altered",
            )
    for file_key, correction in last_by.items():
        actual = actual_sha(file_key)
        if actual is not None and actual == correction.curated_file.sha256_before:
            problems.fail(
                "correction",
                file_key,
                f"correction {correction.correction_id} was recorded but the file is as it was before it "
                "(the rewrite did not happen, or was undone)",
            )
    for key in sorted(correction_files(store) - linked):
        problems.fail("correction", key, "a correction is not linked into the corrections chain")
    return count


def _linked(
    store: ObjectStore, key: str, parsed: dict[str, object], problems: Problems, linked: set[str]
) -> Correction | None:
    """The correction a chain entry links, checked against the hash the entry pinned; None on a problem."""
    try:
        link = CorrectionLink.model_validate(parsed)
    except ValidationError:
        problems.fail("chain", key, "not a correction chain link")
        return None
    if unsafe_keys([link.correction_key]):
        problems.fail("chain", key, f"names an unsafe store key {link.correction_key[:200]!r}: it was altered")
        return None
    linked.add(link.correction_key)
    if not store.exists(link.correction_key):
        problems.fail("correction", link.correction_key, "correction is missing")
        return None
    data = store.get_bytes(link.correction_key)
    if sha256_bytes(data) != link.correction_sha256:
        problems.fail("correction", link.correction_key, "correction changed since it was linked (SHA-256 differs)")
    try:
        correction = Correction.model_validate_json(data)
    except ValidationError:
        problems.fail("correction", link.correction_key, "not a valid kakunin.correction/v1 document")
        return None
    named = [correction.curated_file.key, *([correction.subject_index.key] if correction.subject_index else [])]
    if bad := unsafe_keys(named):
        problems.fail("correction", link.correction_key, f"names an unsafe store key {bad[0][:200]!r}")
        return None
    return correction


def _seen_by_purges(store: ObjectStore) -> dict[str, set[str]]:
    """curated file → every hash a closed purge certificate found it with (so a correction before it is
    accounted for)."""
    seen: dict[str, set[str]] = {}
    for certificate in closed_certificates(store):
        for action in certificate.files:
            seen.setdefault(action.key, set()).add(action.sha256_before)
        for replanned in certificate.replanned:
            seen.setdefault(replanned.key, set()).add(replanned.sha256_found)
    return seen


def with_corrected_digests(rows: pa.Table, corrected: dict[str, str]) -> pa.Table:
    """Manifest rows with each corrected record's `record_digest` replaced by its latest corrected digest."""
    if not corrected or not rows.num_rows:
        return rows
    import pyarrow.compute as pc  # here: a trace, which imports this module for `corrections_of`, needs none of it

    ids = rows.column("record_id")
    hit = pc.is_in(ids, value_set=pa.array(list(corrected), pa.string()))
    if not pc.any(hit).as_py():
        return rows
    digests = [
        corrected.get(record_id, digest)
        for record_id, digest in zip(ids.to_pylist(), rows.column("record_digest").to_pylist(), strict=True)
    ]
    index = rows.schema.get_field_index("record_digest")
    return rows.set_column(index, rows.schema.field(index), pa.array(digests, pa.string()))

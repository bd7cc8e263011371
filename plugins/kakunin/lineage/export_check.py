"""Verify's check of exports (持ち出し): every held copy is what its receipt released, as later purges left it.

An export's files may only change the way the lineage says: its receipt pins each file's hash at
release; a purge certificate's `exports` actions and a correction's `exports` changes move that hash
on (sha256_before → sha256_after) or delete the file. So a row edited, added or re-added by hand
shows as a hash the lineage never had. Beyond hashes, every row must come from a manifest record of
the export's dataset that no closed certificate purged, and the data and manifest must list the same
source records in the same order. A file under exports/ that no receipt names is reported too.
Problems name keys, export ids and record ids, never the values an export holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import ValidationError

from kakunin.errors import KakuninError
from kakunin.exports.formats import SOURCE_RECORD_ID, ExportReceipt
from kakunin.layout import (
    AUDIT_CHAIN,
    CERTIFICATE_CHAIN,
    EXPORT_DATA,
    EXPORT_MANIFEST,
    EXPORT_REGISTER,
    EXPORTS,
    export_key,
    export_receipt_key,
    folder_prefix,
)
from kakunin.lineage.chain import Chain, linked_manifests
from kakunin.lineage.columns import read_columns
from kakunin.lineage.corrections import linked_corrections
from kakunin.lineage.formats import AuditAction, AuditEntry, Certificate, CertificateLink
from kakunin.lineage.problems import Problems, unsafe_keys
from kakunin.storage import ObjectStore, object_sha256

CHECK = "exports"
EXPORT_ACTION = AuditAction.EXPORT.value


@dataclass
class ExportLedger:
    """What the chains say happened to export files: hash moves (before → after; None = deleted), purged ids."""

    moves: dict[str, list[tuple[str, str | None]]] = field(default_factory=dict)  # key → (before, after)
    purged: list[pa.Array] = field(default_factory=list)

    def move(self, key: str, before: str, after: str | None) -> None:
        self.moves.setdefault(key, []).append((before, after))

    def expected(self, key: str, released: str) -> str | None:
        """The hash the file must have now, following the recorded moves from its release (None: deleted).

        Each move is used once, the first that starts from where the file is: certificates and
        corrections are separate chains, so a file corrected back and forth is still followed.
        """
        current: str | None = released
        unused = list(self.moves.get(key, []))
        while current is not None:
            step = next((m for m in unused if m[0] == current), None)
            if step is None:
                break
            unused.remove(step)
            current = step[1]
        return current


def ledger_of(store: ObjectStore) -> ExportLedger:
    """The moves and purged record ids of every closed certificate and linked correction (unreadable ones are
    passed by: the certificate and correction checks report them)."""
    ledger = ExportLedger()
    for certificate in _certificates(store):
        for action in certificate.exports:
            ledger.move(action.key, action.sha256_before, action.sha256_after if action.action == "rewrite" else None)
        records = certificate.records
        if (
            unsafe_keys([records.key])
            or not store.exists(records.key)
            or object_sha256(store, records.key) != records.sha256
        ):
            continue  # the certificate check reports a purged-records list missing or changed
        with store.open_input(records.key) as handle:
            ledger.purged.append(read_columns(handle, ["record_id"]).column("record_id").combine_chunks())
    for correction in linked_corrections(store):
        for change in correction.exports:
            ledger.move(change.key, change.sha256_before, change.sha256_after)
    return ledger


def _certificates(store: ObjectStore) -> Iterator[Certificate]:
    for _, data in Chain(store, CERTIFICATE_CHAIN).entries():
        try:
            link = CertificateLink.model_validate_json(data)
            if unsafe_keys([link.certificate_key]) or not store.exists(link.certificate_key):
                continue
            yield Certificate.model_validate_json(store.get_bytes(link.certificate_key))
        except ValidationError:
            continue


def check_exports(store: ObjectStore, problems: Problems) -> int:
    """Verify's step for exports; returns how many receipts were checked."""
    receipts = _receipts(store, problems)
    if not receipts and next(iter(store.list_keys(folder_prefix(EXPORTS))), None) is None:
        return 0  # (`list_keys` is an iterator: always truthy, so this once never returned)
    ledger = ledger_of(store)
    purged = pa.chunked_array(ledger.purged or [pa.nulls(0, pa.string())], pa.string()).combine_chunks()
    known: dict[str, pa.Array] = {}
    pins = _pinned_receipts(store)
    for receipt in receipts:
        _check_pin(store, receipt, pins.get(receipt.export_id), problems)
        held = [_check_file(store, receipt, name, ledger, problems) for name in (EXPORT_DATA, EXPORT_MANIFEST)]
        if all(held):
            if receipt.dataset not in known:
                known[receipt.dataset] = _manifest_records(store, receipt.dataset)
            _check_rows(store, receipt, known[receipt.dataset], purged, problems)
    named = {export_key(r.dataset, r.export_id, n) for r in receipts for n in (EXPORT_DATA, EXPORT_MANIFEST)}
    for key in sorted(set(store.list_keys(folder_prefix(EXPORTS))) - named):
        problems.fail(CHECK, key, "a file under exports/ that no export receipt names (not released through Kakunin)")
    return len(receipts)


def _pinned_receipts(store: ObjectStore) -> dict[str, str]:
    """export id → the receipt's SHA-256 as its `export` audit entry pinned it (entries before pins: none)."""
    pins: dict[str, str] = {}
    for _, data in Chain(store, AUDIT_CHAIN).entries():
        try:
            entry = AuditEntry.model_validate_json(data)
        except ValidationError:
            continue  # the audit check reports it
        export_id, pinned = entry.detail.get("export_id"), entry.detail.get("receipt_sha256")
        if entry.action == EXPORT_ACTION and isinstance(export_id, str) and isinstance(pinned, str):
            pins[export_id] = pinned
    return pins


def _check_pin(store: ObjectStore, receipt: ExportReceipt, pinned: str | None, problems: Problems) -> None:
    """The receipt must be the one its (sealed) audit entry pinned: receipts are in no chain of their own."""
    key = export_receipt_key(receipt.export_id)
    if pinned is None:
        problems.fail(
            CHECK,
            key,
            f"export {receipt.export_id}: no `export` audit entry pins this receipt (released outside Kakunin, "
            "or a release interrupted before its audit entry: its copy was never handed out)",
        )
    elif object_sha256(store, key) != pinned:
        problems.fail(
            CHECK, key, f"export {receipt.export_id}: the receipt differs from the one its audit entry pinned"
        )


def _receipts(store: ObjectStore, problems: Problems) -> list[ExportReceipt]:
    found = []
    for key in sorted(store.list_keys(folder_prefix(EXPORT_REGISTER))):
        try:
            receipt = ExportReceipt.model_validate_json(store.get_bytes(key))
        except ValidationError:
            problems.fail(CHECK, key, "not a valid kakunin.export/v1 receipt")
            continue
        if key != f"{EXPORT_REGISTER}/{receipt.export_id}.json" or unsafe_keys([receipt.dataset, receipt.export_id]):
            problems.fail(CHECK, key, "the receipt's export id or dataset does not match where it is filed")
            continue
        expected = (
            export_key(receipt.dataset, receipt.export_id, EXPORT_DATA),
            export_key(receipt.dataset, receipt.export_id, EXPORT_MANIFEST),
        )
        if (receipt.data.key, receipt.manifest.key) != expected:
            problems.fail(CHECK, key, "the receipt names files outside its export's folder")
            continue
        found.append(receipt)
    return found


def _check_file(
    store: ObjectStore, receipt: ExportReceipt, name: str, ledger: ExportLedger, problems: Problems
) -> bool:
    """Whether the file is held as the lineage expects (reporting it when not); False when absent."""
    released = receipt.data if name == EXPORT_DATA else receipt.manifest
    key = released.key
    expected = ledger.expected(key, released.sha256)
    present = store.exists(key)
    if expected is None:
        if present:
            problems.fail(
                CHECK, key, f"export {receipt.export_id}: a purge certificate deleted this file, yet it is here"
            )
        return False
    if not present:
        problems.fail(
            CHECK, key, f"export {receipt.export_id}: the file is missing, and no purge certificate deleted it"
        )
        return False
    if object_sha256(store, key) != expected:
        problems.fail(
            CHECK,
            key,
            f"export {receipt.export_id}: the file differs from what was released and what purges and corrections "
            "made of it (SHA-256 differs): it was altered",
        )
    return True


def _manifest_records(store: ObjectStore, dataset: str) -> pa.Array:
    """Every record id the linked manifests give `dataset`."""
    found = [pa.nulls(0, pa.string())]  # not `pa.array([])`: a Python list makes pyarrow import pandas (~0.5 s)
    for _, manifest_key in linked_manifests(store):
        try:
            with store.open_input(manifest_key) as handle:
                table = read_columns(handle, ["record_id", "dataset"])
        except (KakuninError, OSError, pa.ArrowException):
            continue  # verify's manifest check reports it
        found.append(table.filter(pc.equal(table.column("dataset"), dataset)).column("record_id").combine_chunks())
    return pa.concat_arrays(found)


def _check_rows(
    store: ObjectStore, receipt: ExportReceipt, known: pa.Array, purged: pa.Array, problems: Problems
) -> None:
    """Data and manifest list the same source records in order; each is a live manifest record of the dataset."""
    try:
        data = _ids(store, receipt.data.key)
        manifest = _ids(store, receipt.manifest.key)
    except (KeyError, pa.ArrowException, OSError):
        problems.fail(CHECK, receipt.data.key, f"export {receipt.export_id}: unreadable, or without {SOURCE_RECORD_ID}")
        return
    if data.to_pylist() != manifest.to_pylist():
        problems.fail(
            CHECK,
            receipt.data.key,
            f"export {receipt.export_id}: data ({len(data)} rows) and manifest ({len(manifest)} rows) do not list the "
            "same source records in the same order",
        )
    ids = pa.concat_arrays([data, manifest])
    _report(problems, receipt, ids.filter(pc.invert(pc.is_in(ids, value_set=known))), "in no manifest of its dataset")
    _report(problems, receipt, ids.filter(pc.is_in(ids, value_set=purged)), "purged by a closed certificate")


def _ids(store: ObjectStore, key: str) -> pa.Array:
    with store.open_input(key) as handle:
        return read_columns(handle, [SOURCE_RECORD_ID]).column(SOURCE_RECORD_ID).combine_chunks()


def _report(problems: Problems, receipt: ExportReceipt, ids: Iterable[pa.Scalar], why: str) -> None:
    distinct = sorted({str(i.as_py()) for i in ids})
    if distinct:
        problems.fail(
            CHECK,
            receipt.data.key,
            f"export {receipt.export_id}: {len(distinct)} row source(s) {why} (first: {distinct[0]})",
        )

"""`kakunin subject correct`: rewrite one curated record (訂正, APPI Art. 34; GDPR Art. 16) and say so in the lineage.

The record's curated file is rewritten under the same key with the new values, every other
row as it was; the batch's subject index follows when an identifier changed. The correction
(`kakunin.lineage.corrections`) names the columns, never the values, with the record's old
and new digest and the file's hash before and after, so `lineage verify` can tell it from
tampering. Corrections and retention runs rewrite the same files: a correction holds the
retention lease throughout, and is refused (busy) while a retention run holds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kakunin import audit
from kakunin.clock import local_date
from kakunin.contracts import Column, ColumnType, DatasetContract, Registry
from kakunin.errors import ConfigError, InputError, KakuninError
from kakunin.exports.reach import correct_exports
from kakunin.hashing import sha256_bytes, sha256_file
from kakunin.layout import CORRECTION_CHAIN, RETENTION_LEASE, BatchRef, correction_key, subject_index_key
from kakunin.leases import acquire, new_owner
from kakunin.lineage import seal
from kakunin.lineage.chain import Chain
from kakunin.lineage.corrections import Correction, CorrectionLink, FileChange
from kakunin.lineage.digest_order import sorted_by_digest
from kakunin.lineage.digests import Hmac, canonical_records
from kakunin.lineage.formats import RECORD_ID, RETENTION_UNTIL, AuditAction
from kakunin.lineage.trace import find_manifest_row, purged_record
from kakunin.storage import ObjectStore, object_sha256
from kakunin.subjects.formats import RequestClosing, RequestKind, SubjectRequest
from kakunin.subjects.identifiers import INDEX_SCHEMA, index_rows, subject_key
from kakunin.yaml_io import dump_json

_RECORD_ID = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
_INTEGER = r"^[+-]?\d+$"
_BOOLEANS = {"true": True, "false": False}


class CorrectionBusy(KakuninError):
    """A retention run (or another correction) holds the retention lease: nothing was corrected."""

    code = "busy"


@dataclass(frozen=True)
class Target:
    """The record a correction is about, as the lineage knows it."""

    record_id: str
    ref: BatchRef
    curated_file: str
    record_digest: str
    contract: DatasetContract


def parse_value(column: Column, text: str) -> Any:
    """`text` as a value of `column` (empty = null, only where the column is nullable); `InputError` if not."""
    if text == "":
        if not column.nullable:
            raise InputError(f"{column.name} may not be empty (the contract says it is not nullable)")
        return None
    kind = column.type
    try:
        if kind is ColumnType.STRING:
            return text
        if kind is ColumnType.INTEGER and re.fullmatch(_INTEGER, text.strip()):
            return int(text)
        if kind is ColumnType.DECIMAL:
            return Decimal(text.strip())
        if kind is ColumnType.BOOLEAN and text.strip().lower() in _BOOLEANS:
            return _BOOLEANS[text.strip().lower()]
        if kind is ColumnType.DATE:
            return date.fromisoformat(text.strip())
        if kind is ColumnType.TIMESTAMP:
            value = datetime.fromisoformat(text.strip())
            if value.tzinfo is not None:
                return value
    except (ValueError, InvalidOperation):
        pass
    raise InputError(f"the value given for {column.name} is not a valid {_expected(kind)}")


def _expected(kind: ColumnType) -> str:
    return {
        ColumnType.STRING: "string",
        ColumnType.INTEGER: "integer",
        ColumnType.DECIMAL: "decimal number",
        ColumnType.BOOLEAN: "boolean (true or false)",
        ColumnType.DATE: "date (YYYY-MM-DD)",
        ColumnType.TIMESTAMP: "timestamp with a UTC offset (e.g. 2026-04-01T09:30:00+09:00)",
    }[kind]


def parse_assignments(texts: list[str], contract: DatasetContract) -> dict[str, Any]:
    """`COLUMN=VALUE` pairs as typed values, checked against the contract; `InputError` on the first bad one."""
    if not texts:
        raise InputError("nothing to correct: give at least one --set COLUMN=VALUE")
    columns = contract.columns_by_name
    out: dict[str, Any] = {}
    for text in texts:
        name, equals, value = text.partition("=")
        name = name.strip()
        if not equals:
            raise InputError(f"--set takes COLUMN=VALUE, got {name[:64]!r} without '='")
        if name in (RECORD_ID, RETENTION_UNTIL):
            raise InputError(f"{name} is Kakunin's, not the record's: it cannot be corrected")
        if name not in columns:
            known = ", ".join(columns)
            raise InputError(f"{name[:64]!r} is not a column of {contract.dataset} (its columns: {known})")
        if name in contract.subject_key:
            raise InputError(
                f"{name} is the dataset's subject key (the provider's customer number, which the manifest's "
                "subject_digest and erasure by customer number rest on): it cannot be corrected; "
                "ask the provider to send the record again"
            )
        if name in out:
            raise InputError(f"{name} is set twice")
        out[name] = parse_value(columns[name], value)
    return out


def find_target(store: ObjectStore, registry: Registry, record_id: str) -> Target:
    """The record as its manifest row names it; `InputError` for an unknown or purged record."""
    if not re.fullmatch(_RECORD_ID, record_id):
        raise InputError(
            f"{record_id[:64]!r} is not a record id (a UUIDv7 such as 019abef0-2300-7f64-94c4-bd404e68c655)"
        )
    found = find_manifest_row(store, record_id)
    if found is None:
        raise InputError(f"record {record_id} is in no manifest: there is nothing to correct")
    row, _ = found
    ref = BatchRef(str(row["dataset"]), str(row["batch_id"]))
    contract = registry.contract(ref.dataset)
    if contract is None:
        raise ConfigError(f"dataset {ref.dataset} has no contract under {registry.root}: cannot type the values")
    return Target(record_id, ref, str(row["curated_file"]), str(row["record_digest"]), contract)


def check_request(store: ObjectStore, request_id: str) -> SubjectRequest:
    """The open `correct` request `request_id` names; `InputError` otherwise."""
    from kakunin.layout import subject_request_key
    from kakunin.subjects.register import request_of

    request = request_of(store, request_id)
    if request is None:
        raise InputError(f"no subject request {request_id[:64]!r} is registered")
    if request.request is not RequestKind.CORRECT:
        raise InputError(f"request {request_id} asks for {request.request.value}, not a correction (訂正)")
    if store.exists(subject_request_key(request_id, closed=True)):
        raise InputError(f"request {request_id} is already closed")
    return request


def check_not_held(store: ObjectStore, target: Target) -> None:
    """A legal hold keeps evidence as it is: a held record is not rewritten."""
    from kakunin.retention.holds import active_holds
    from kakunin.retention.plan import held_by

    for hold in active_holds(store):
        on_record = hold.scope == "record" and hold.dataset == target.ref.dataset and hold.target == target.record_id
        if on_record or held_by(hold, target.ref.dataset, target.ref.batch_id):
            raise InputError(
                f"record {target.record_id} is under legal hold {hold.hold_id} ({hold.scope}): held evidence "
                "is not changed; release the hold first"
            )


def _read_live(store: ObjectStore, target: Target) -> tuple[pa.Table, str, str]:
    """The curated file's table, its compression and SHA-256; `InputError` when the record is no longer there."""
    table = None
    if store.exists(target.curated_file):
        with store.reading(target.curated_file) as path:
            parquet = pq.ParquetFile(path)
            compression = parquet.metadata.row_group(0).column(0).compression.lower() if parquet.num_row_groups else ""
            table = parquet.read()
    if table is None or not pc.any(pc.equal(table.column(RECORD_ID), target.record_id)).as_py():
        purged = purged_record(store, target.record_id)
        why = f"purged by certificate {purged[0].run_id}" if purged else "not in the curated store"
        raise InputError(f"record {target.record_id} is {why}: there is nothing to correct")
    return table, compression or "zstd", object_sha256(store, target.curated_file)


def corrected_table(table: pa.Table, record_id: str, values: dict[str, Any]) -> tuple[pa.Table, list[str]]:
    """`table` with the record's columns set to `values`; the names of the columns that really change."""
    mask = pc.equal(table.column(RECORD_ID), record_id)
    row = table.filter(mask)
    changed = []
    for name, value in values.items():
        index = table.schema.get_field_index(name)
        field = table.schema.field(index)
        try:
            scalar = pa.scalar(value, field.type)
        except (pa.ArrowException, ValueError, TypeError, OverflowError):
            raise InputError(f"the value given for {name} does not fit the column's type ({field.type})") from None
        if row.column(name)[0].as_py() == scalar.as_py():
            continue
        changed.append(name)
        column = pc.if_else(mask, scalar, table.column(index))
        table = table.set_column(index, field, column)
    if not changed:
        raise InputError(f"nothing to correct: record {record_id} already holds those values")
    return table, changed


def correct_record(
    store: ObjectStore,
    registry: Registry,
    *,
    record_id: str,
    assignments: list[str],
    reason: str,
    request_id: str | None,
    hmac_key: bytes,
    actor: str,
    now: datetime,
) -> tuple[Correction, str]:
    """Correct one record; returns the correction and the id of the request it closed.

    Everything is checked before anything is written: a refusal leaves the store as it was.
    """
    if not reason.strip():
        raise InputError("--reason must say why (a reference such as the request's letter number)")
    target = find_target(store, registry, record_id)
    values = parse_assignments(assignments, target.contract)
    request = check_request(store, request_id) if request_id else None
    lease = acquire(store, RETENTION_LEASE, owner=new_owner(), now=lambda: now)
    if lease is None:
        raise CorrectionBusy("a retention run holds the retention lease; nothing was corrected: try again later")
    try:
        check_not_held(store, target)
        correction = _rewrite(
            store, target, values, hmac_key, reason=reason.strip(), request=request, actor=actor, now=now
        )
        key, data = _record(store, target.ref, correction, hmac_key)
    finally:
        lease.release()
    audit.record(
        store,
        AuditAction.CORRECT,
        at=now,
        actor=actor,
        dataset=target.ref.dataset,
        batch_id=target.ref.batch_id,
        record_ids=[record_id],
        detail={
            "correction_id": correction.correction_id,
            "columns": ",".join(correction.columns),
            "correction": key,
            "correction_sha256": sha256_bytes(data),
            "identifiers_changed": correction.identifiers_changed,
            "request_id": correction.request_id,
        },
        key=hmac_key,
    )
    return correction, _close_request(store, registry, request, correction)


def _rewrite(
    store: ObjectStore,
    target: Target,
    values: dict[str, Any],
    hmac_key: bytes,
    *,
    reason: str,
    request: SubjectRequest | None,
    actor: str,
    now: datetime,
) -> Correction:
    """Rewrite the curated file (and the subject index, when an identifier changed); the correction that says so."""
    table, compression, sha_before = _read_live(store, target)
    table, changed = corrected_table(table, target.record_id, values)
    new_row = table.filter(pc.equal(table.column(RECORD_ID), target.record_id))
    digest_after = Hmac(hmac_key).hexdigests(canonical_records(new_row, target.contract))[0].as_py()
    with store.writing(target.curated_file) as out:
        pq.write_table(table, out, compression=compression)
        sha_after = sha256_file(out)
    identifiers = _touches_identifiers(target, changed)
    exports, recall = correct_exports(store, target.ref.dataset, target.record_id, new_row, changed)
    return Correction(
        correction_id=_new_id("COR", now),
        record_id=target.record_id,
        dataset=target.ref.dataset,
        batch_id=target.ref.batch_id,
        columns=changed,
        record_digest_before=target.record_digest,
        record_digest_after=str(digest_after),
        curated_file=FileChange(key=target.curated_file, sha256_before=sha_before, sha256_after=sha_after),
        subject_index=_rewrite_index(store, target, new_row, hmac_key) if identifiers else None,
        identifiers_changed=identifiers,
        exports=exports,
        exports_recall=recall,
        reason=reason,
        request_id=request.request_id if request else None,
        actor=actor,
        corrected_at=now,
    )


def _touches_identifiers(target: Target, changed: list[str]) -> bool:
    fed = {s.column for s in target.contract.identifiers} | {
        s.birth_date for s in target.contract.identifiers if s.birth_date
    }
    return bool(fed & set(changed))


def _rewrite_index(store: ObjectStore, target: Target, new_row: pa.Table, hmac_key: bytes) -> FileChange | None:
    """Replace the record's rows in its batch's subject index with the corrected identifiers' digests."""
    key = subject_index_key(target.ref)
    if not store.exists(key):
        return None  # a batch published before the index: nothing to follow
    before = object_sha256(store, key)
    with store.reading(key) as path:
        rows = pq.read_table(path, schema=INDEX_SCHEMA)
    kept = rows.filter(pc.not_equal(rows.column(RECORD_ID), target.record_id))
    fresh = index_rows(pa.array([target.record_id], pa.string()), new_row, target.contract, subject_key(hmac_key))
    merged = sorted_by_digest(pa.concat_tables([kept, fresh]))
    with store.writing(key) as out:
        pq.write_table(merged, out, compression="zstd")
        after = sha256_file(out)
    return FileChange(key=key, sha256_before=before, sha256_after=after)


def _record(store: ObjectStore, ref: BatchRef, correction: Correction, hmac_key: bytes) -> tuple[str, bytes]:
    """Write the correction and link it into the corrections chain (sealed)."""
    key = correction_key(ref, correction.correction_id)
    data = dump_json(correction)
    store.put_bytes(key, data)

    def link(sequence: int, previous: str | None) -> bytes:
        entry = CorrectionLink(
            sequence=sequence, previous=previous, correction_key=key, correction_sha256=sha256_bytes(data)
        )
        return seal.entry_bytes(entry, hmac_key)

    Chain(store, CORRECTION_CHAIN).append(link)
    return key, data


def _close_request(
    store: ObjectStore, registry: Registry, request: SubjectRequest | None, correction: Correction
) -> str:
    """Close the request the correction answers; without one, register the request it answered, closed."""
    from kakunin.subjects.formats import Regime
    from kakunin.subjects.register import load_due_policy, write_closing, write_request

    now = correction.corrected_at
    if request is None:
        received = local_date(now)
        request = SubjectRequest(
            request_id=_new_id("REQ", now),
            request=RequestKind.CORRECT,
            received_on=received,
            due_on=load_due_policy(registry.root).due_on(received, set()),
            regimes=[Regime.APPI],
            identifiers=[],
            record_ids=[correction.record_id],
            reference=f"correction {correction.correction_id}",
            requested_by=correction.actor,
            recorded_at=now,
        )
        write_request(store, request)
    outcome = f"corrected record {correction.record_id} ({', '.join(correction.columns)}): {correction.correction_id}"
    write_closing(
        store,
        RequestClosing(request_id=request.request_id, closed_at=now, closed_by=correction.actor, outcome=outcome),
    )
    return request.request_id


def _new_id(prefix: str, now: datetime) -> str:
    from kakunin.subjects.register import new_id

    return new_id(prefix, now)

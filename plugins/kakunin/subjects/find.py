"""`kakunin subject find`: every record of one person, across datasets, batches and providers.

The person is named by identifiers; only their keyed digests reach the store. The subject
index gives the records and which identifiers matched; the manifest row, the receipt and the
provenance document give the batch's story; the stop list and the purge certificates give the
state. A record an erasure reached may be gone from the index: erasure requests that list the
person's digests and their record ids (when they carry them) bring it back as purged.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict

from kakunin.layout import ERASURE_REQUESTS, BatchRef, erasure_request_id, folder_prefix, subject_index_key
from kakunin.lineage.chain import closed_certificates
from kakunin.lineage.formats import ManifestHeader, read_receipt, readable_dates
from kakunin.lineage.receipts import Receipt, ReceiptV1
from kakunin.lineage.trace import find_manifest_row
from kakunin.storage import ObjectStore, load
from kakunin.subjects.formats import INDEX_SCHEMA
from kakunin.subjects.register import Stops, digests_of_records, is_eu_origin, read_index, stops_in_force, suppressions

MATCHED_BY_ERASURE = "erasure request"  # `matched_by` of a record known only from an erasure request


class RecordState(StrEnum):
    """Where a record of the person stands now."""

    LIVE = "live"  # in the curated store, in use
    STOPPED = "stopped"  # in the curated store, its use stopped (利用停止)
    PURGED = "purged"  # gone, and a closed purge certificate names it
    MISSING = "missing"  # gone, and nothing accounts for it


class FoundRecord(BaseModel):
    """One record of the person: where it came from, why it is held, where it stands."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    record_id: str
    dataset: str
    batch_id: str
    provider: str | None
    provider_corporate_number: str | None
    received_on: date | None
    purposes: list[str]
    legal_ground: str | None
    retention_until: date | None
    state: RecordState
    stop_id: str | None = None
    purged_by: str | None = None
    matched_by: list[str]
    curated_file: str | None
    eu_origin: bool = False


@dataclass(frozen=True)
class Batch:
    """What one batch's lineage says, read once for all its records."""

    ref: BatchRef
    header: ManifestHeader | None
    receipt: ReceiptV1 | Receipt | None
    receipt_json: dict[str, Any] | None
    eu_origin: bool


def find_records(store: ObjectStore, digests: Iterable[str]) -> list[FoundRecord]:
    """Every record whose identifiers include one of `digests`, ordered by dataset, batch and record id."""
    wanted = set(digests)
    rows = read_index(store, digests=wanted)
    matched: dict[str, set[str]] = defaultdict(set)
    where: dict[str, tuple[str, str]] = {}
    for row in rows.to_pylist():
        matched[row["record_id"]].add(row["kind"])
        where[row["record_id"]] = (row["dataset"], row["batch_id"])
    for record_id, dataset, batch_id in [*erased_records(store, wanted), *suppressed_records(store, wanted)]:
        if record_id not in where and not (dataset and batch_id):
            manifest_row = find_manifest_row(store, record_id)
            if manifest_row is None:
                continue
            dataset, batch_id = str(manifest_row[0]["dataset"]), str(manifest_row[0]["batch_id"])
        matched[record_id].add(MATCHED_BY_ERASURE)
        where.setdefault(record_id, (dataset, batch_id))
    if not matched:
        return []
    stops = stops_in_force(store)
    record_digests = _digests_by_record(store, set(matched))
    purged = purged_records(store, set(matched))
    by_batch: dict[tuple[str, str], list[str]] = defaultdict(list)
    for record_id, located in where.items():
        by_batch[located].append(record_id)
    found = []
    for (dataset, batch_id), ids in sorted(by_batch.items()):
        batch = read_batch(store, BatchRef(dataset, batch_id))
        manifest = _manifest_rows(store, batch, set(ids))
        curated = _curated_ids(store, {str(r["curated_file"]) for r in manifest.values()})
        for record_id in sorted(ids):
            row = manifest.get(record_id, {})
            stop = stops.stopped(record_id, record_digests.get(record_id, set()))
            found.append(
                _record(record_id, dataset, batch_id, batch, row, curated, stop, purged, sorted(matched[record_id]))
            )
    return found


def _record(
    record_id: str,
    dataset: str,
    batch_id: str,
    batch: Batch,
    row: dict[str, Any],
    curated: set[str],
    stop: Any,
    purged: dict[str, str],
    matched_by: list[str],
) -> FoundRecord:
    live = record_id in curated
    if live:
        state = RecordState.STOPPED if stop is not None else RecordState.LIVE
    else:
        state = RecordState.PURGED if record_id in purged else RecordState.MISSING
    receipt = batch.receipt
    return FoundRecord(
        record_id=record_id,
        dataset=dataset,
        batch_id=batch_id,
        provider=receipt.provider.legal_name if receipt else None,
        provider_corporate_number=receipt.provider.corporate_number if receipt else None,
        received_on=row.get("received_on") or (receipt.received_on if receipt else None),
        purposes=list(row.get("purposes") or (receipt.purposes if receipt else [])),
        legal_ground=row.get("legal_ground") or (receipt.legal_ground if receipt else None),
        retention_until=row.get("retention_until"),
        state=state,
        stop_id=stop.stop_id if stop is not None else None,
        purged_by=purged.get(record_id),
        matched_by=matched_by,
        curated_file=str(row["curated_file"]) if live and row.get("curated_file") else None,
        eu_origin=batch.eu_origin,
    )


def read_batch(store: ObjectStore, ref: BatchRef) -> Batch:
    """The batch's manifest header, receipt (model and JSON) and whether its provenance says EU origin."""
    header = load(store, ref.manifest_header, ManifestHeader) if store.exists(ref.manifest_header) else None
    receipt_key = header.receipt.key if header else ref.receipt
    receipt: ReceiptV1 | Receipt | None = None
    receipt_json = None
    if store.exists(receipt_key):
        data = store.get_bytes(receipt_key)
        receipt = read_receipt(data)
        receipt_json = json.loads(data)
    eu = header is not None and is_eu_origin(store, header.provenance_document.key)
    return Batch(ref=ref, header=header, receipt=receipt, receipt_json=receipt_json, eu_origin=eu)


def _manifest_rows(store: ObjectStore, batch: Batch, ids: set[str]) -> dict[str, dict[str, Any]]:
    if batch.header is None:
        return {}
    key = batch.ref.manifest_parquet
    if not store.exists(key):
        return {}
    with store.open_input(key) as handle:
        table = pq.read_table(handle, filters=[("record_id", "in", sorted(ids))])
    return {row["record_id"]: row for row in readable_dates(table, "retention_until").to_pylist()}


def _curated_ids(store: ObjectStore, keys: set[str]) -> set[str]:
    """The record ids still in these curated files."""
    ids: set[str] = set()
    for key in sorted(keys):
        if store.exists(key):
            with store.open_input(key) as handle:
                ids.update(pq.read_table(handle, columns=["record_id"]).column("record_id").to_pylist())
    return ids


def curated_row(store: ObjectStore, key: str, record_id: str) -> dict[str, Any] | None:
    """Every column of the record's curated row, as held (dates as dates), or None when it is gone."""
    if not store.exists(key):
        return None
    with store.open_input(key) as handle:
        table = pq.read_table(handle, filters=[("record_id", "=", record_id)])
    return table.to_pylist()[0] if table.num_rows else None


def purged_records(store: ObjectStore, ids: set[str]) -> dict[str, str]:
    """Of `ids`, those a closed purge certificate lists, with the certificate's run id."""
    found: dict[str, str] = {}
    if not ids:
        return found
    import pyarrow.compute as pc  # here: `lineage trace` imports this module for `stop_id_for`, which needs none of it

    wanted = pa.array(sorted(ids), pa.string())
    for certificate in closed_certificates(store):
        if not store.exists(certificate.records.key):
            continue
        with store.open_input(certificate.records.key) as handle:
            listed = pq.read_table(handle, columns=["record_id"]).column("record_id")
        for record_id in listed.filter(pc.is_in(listed, value_set=wanted)).to_pylist():
            found.setdefault(record_id, certificate.run_id)
    return found


def erased_records(store: ObjectStore, digests: set[str]) -> list[tuple[str, str, str]]:
    """(record id, dataset, batch id) of records an erasure request of this person reached.

    Read from the raw JSON: a request carries `identifiers` and `record_ids` only when written by
    an erasure that knows the subject index; older requests name one dataset's subject digest.
    """
    out = []
    for key in store.list_keys(folder_prefix(ERASURE_REQUESTS)):
        if erasure_request_id(key) is None:
            continue
        try:
            doc = json.loads(store.get_bytes(key))
        except ValueError:
            continue
        given = {d.get("digest") for d in doc.get("identifiers") or [] if isinstance(d, dict)}
        if not given & digests:
            continue
        for item in doc.get("record_ids") or []:
            if isinstance(item, str):
                out.append((item, str(doc.get("dataset") or ""), str(doc.get("batch_id") or "")))
            elif isinstance(item, dict) and isinstance(item.get("record_id"), str):
                out.append((item["record_id"], str(item.get("dataset") or ""), str(item.get("batch_id") or "")))
    return out


def suppressed_records(store: ObjectStore, digests: set[str]) -> list[tuple[str, str, str]]:
    """(record id, dataset, batch id) of records purged for an erasure whose suppression lists one of `digests`.

    A purge drops its records' rows from the subject index; the suppression list keeps the
    person's digests under the erasure's request id, and the certificate's record list names
    each record it purged for that request (`reason` "erasure request <id>").
    """
    requests = {s.request_id for s in suppressions(store) if digests & {d.digest for d in s.digests}}
    if not requests:
        return []
    import pyarrow.compute as pc

    reasons = pa.array(sorted(f"erasure request {r}" for r in requests), pa.string())
    out: list[tuple[str, str, str]] = []
    for certificate in closed_certificates(store):
        if not requests & set(certificate.erasure_requests) or not store.exists(certificate.records.key):
            continue
        with store.open_input(certificate.records.key) as handle:
            table = pq.read_table(handle, columns=["record_id", "dataset", "batch_id", "reason"])
        table = table.filter(pc.is_in(table.column("reason"), value_set=reasons))
        out.extend((r["record_id"], r["dataset"], r["batch_id"]) for r in table.to_pylist())
    return out


def _digests_by_record(store: ObjectStore, ids: set[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for row in digests_of_records(store, ids).select(["record_id", "digest"]).to_pylist():
        out[row["record_id"]].add(row["digest"])
    return out


def stop_id_for(store: ObjectStore) -> Callable[[str, str, str], str | None]:
    """`(dataset, batch_id, record_id) -> stop id or None`, for `lineage trace` (the stop list read once)."""
    stops = stops_in_force(store)

    def stop_id(dataset: str, batch_id: str, record_id: str) -> str | None:
        stop = stop_of_record(store, BatchRef(dataset, batch_id), record_id, stops)
        return str(stop.stop_id) if stop is not None else None

    return stop_id


def stop_of_record(store: ObjectStore, ref: BatchRef, record_id: str, stops: Stops | None = None) -> Any:
    """The stop in force that covers this record (its id, or a digest of it, is listed), or None."""
    stops = stops if stops is not None else stops_in_force(store)
    if not stops.active:
        return None
    digests: set[str] = set()
    key = subject_index_key(ref)
    if store.exists(key):
        with store.open_input(key) as handle:
            table = pq.read_table(handle, schema=INDEX_SCHEMA, filters=[("record_id", "=", record_id)])
        digests = set(table.column("digest").to_pylist())
    return stops.stopped(record_id, digests)

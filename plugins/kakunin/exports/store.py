"""Where exports live and how they are written and read: the one place that knows the files.

The selection (which records, which columns, which limits) is `kakunin.exports.release`;
this module only puts a released table and its receipt in the store, and reads them back.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kakunin.exports.formats import EXPORT_MANIFEST_SCHEMA, SOURCE_RECORD_ID, ExportReceipt
from kakunin.hashing import sha256_bytes
from kakunin.layout import (
    EXPORT_DATA,
    EXPORT_MANIFEST,
    EXPORT_REGISTER,
    export_key,
    export_receipt_key,
    folder_prefix,
    object_id,
)
from kakunin.lineage.formats import StoredObject
from kakunin.storage import ObjectStore, load, object_sha256
from kakunin.yaml_io import dump_json

__all__ = [
    "export_receipts",
    "held_exports",
    "latest_retention",
    "put_table",
    "read_export",
    "read_export_manifest",
    "receipt_of",
    "rows_from",
    "write_files",
    "write_receipt",
]


def put_table(store: ObjectStore, key: str, table: pa.Table) -> StoredObject:
    """Write `table` as Parquet at `key` (atomically) and return it with its hash and row count."""
    with store.writing(key) as target:
        pq.write_table(table, target, compression="zstd")
    return StoredObject(key=key, sha256=object_sha256(store, key), rows=table.num_rows)


def write_files(
    store: ObjectStore, dataset: str, export_id: str, released: pa.Table, manifest: pa.Table
) -> tuple[StoredObject, StoredObject]:
    """Put an export's two files: the released rows, and the manifest (no personal data).

    `released` must carry `source_record_id`; `manifest` must have `EXPORT_MANIFEST_SCHEMA`,
    one row per released row, in the same order.
    """
    if SOURCE_RECORD_ID not in released.column_names:
        raise ValueError(f"an export's rows must carry {SOURCE_RECORD_ID}")
    if manifest.num_rows != released.num_rows:
        raise ValueError("an export's manifest must have one row per released row")
    manifest = manifest.select(EXPORT_MANIFEST_SCHEMA.names).cast(EXPORT_MANIFEST_SCHEMA)
    data = put_table(store, export_key(dataset, export_id, EXPORT_DATA), released)
    listed = put_table(store, export_key(dataset, export_id, EXPORT_MANIFEST), manifest)
    return data, listed


def write_receipt(store: ObjectStore, receipt: ExportReceipt) -> str:
    """Register the export: its receipt is written once (a second write of the same id is refused).

    Returns the receipt's SHA-256, for the export's audit entry to pin (receipts are in no chain
    of their own: the sealed entry is what makes an edited receipt show).
    """
    data = dump_json(receipt)
    if not store.put_bytes_if_absent(export_receipt_key(receipt.export_id), data):
        raise FileExistsError(f"export {receipt.export_id} is already registered")
    return sha256_bytes(data)


def receipt_of(store: ObjectStore, export_id: str) -> ExportReceipt | None:
    key = export_receipt_key(export_id)
    if object_id(key, EXPORT_REGISTER) is None or not store.exists(key):
        return None
    return load(store, key, ExportReceipt)


def export_receipts(store: ObjectStore) -> list[ExportReceipt]:
    """Every registered export, oldest first."""
    keys = [k for k in store.list_keys(folder_prefix(EXPORT_REGISTER)) if object_id(k, EXPORT_REGISTER)]
    return sorted((load(store, k, ExportReceipt) for k in keys), key=lambda r: (r.created_at, r.export_id))


def held_exports(store: ObjectStore) -> Iterator[ExportReceipt]:
    """The registered exports whose files are still in the store (a purge may have removed them all)."""
    for receipt in export_receipts(store):
        if store.exists(receipt.manifest.key):
            yield receipt


def read_export_manifest(store: ObjectStore, receipt: ExportReceipt) -> pa.Table:
    """The export's manifest as it is now (a purge may have rewritten it)."""
    with store.open_input(receipt.manifest.key) as handle:
        return pq.read_table(handle)


def read_export(store: ObjectStore, receipt: ExportReceipt) -> pa.Table:
    """The export's released rows as they are now (personal data: callers log ids and counts only)."""
    with store.open_input(receipt.data.key) as handle:
        return pq.read_table(handle)


def rows_from(store: ObjectStore, receipt: ExportReceipt, source_record_ids: set[str]) -> pa.Table:
    """The export's manifest rows of the given source records (to find what a purge must reach)."""
    manifest = read_export_manifest(store, receipt)
    wanted = pa.array(sorted(source_record_ids), pa.string())
    return manifest.filter(pc.is_in(manifest.column(SOURCE_RECORD_ID), value_set=wanted))


def latest_retention(manifest: pa.Table) -> date | None:
    """The latest retention_until of an export's rows (None for an empty export)."""
    if manifest.num_rows == 0:
        return None
    value = pc.max(manifest.column("retention_until")).as_py()
    return value if isinstance(value, date) else None


def register_row(receipt: ExportReceipt, *, held: bool) -> dict[str, Any]:
    """One line of the export register (`kakunin exports --json`, the web API): ids, counts, who, no data."""
    return {
        "export_id": receipt.export_id,
        "created_at": receipt.created_at.isoformat(),
        "dataset": receipt.dataset,
        "purpose": receipt.purpose,
        "requested_by": receipt.requested_by,
        "actor": receipt.actor,
        "actor_authenticated_by": receipt.actor_authenticated_by,
        "rows": receipt.rows,
        "columns": receipt.columns,
        "state": "held" if held else "purged",
        "alert": receipt.alert,
        "schedule": receipt.schedule,
        "delivered": receipt.delivered.key if receipt.delivered else None,
    }

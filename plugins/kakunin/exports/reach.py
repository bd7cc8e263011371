"""Purges, erasures and corrections reach every export still held in the store.

An export is a copy of curated records. When a record is purged (its retention ended, or an
erasure request named it) its rows go from every held export too, in the same retention run,
and rows whose own `retention_until` has passed go with them; an export left with no row is
deleted whole. When a record is corrected (訂正), every held export carrying a corrected column
gets the new value. Both files of an export (data and manifest) change together, row for row,
and the hashes before and after are named in the certificate or the correction, so `lineage
verify` can follow them. A copy already handed out (`delivered`) is outside the store: it is
listed for recall, never silently forgotten.

The decisions are pure functions of the manifest; reading and writing files is at the edges.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict

from kakunin.exports.formats import SOURCE_RECORD_ID, ExportReceipt
from kakunin.exports.store import held_exports, read_export, read_export_manifest
from kakunin.lineage.corrections import FileChange
from kakunin.lineage.formats import ExportRecall, FileAction
from kakunin.storage import ObjectStore, object_sha256

__all__ = [
    "HeldRows",
    "PlannedExport",
    "carry_out_export",
    "correct_exports",
    "due_rows",
    "plan_export_purge",
    "recall_of",
]


class PlannedExport(BaseModel):
    """One held export a purge reaches (journaled before any file changes, so a rerun finishes it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    export_id: str
    remove: list[str]  # the source record ids whose rows go: filtering by id is idempotent
    data: FileAction
    manifest: FileAction
    recall: ExportRecall | None = None


def due_rows(manifest: pa.Table, purged: pa.Array, as_of: date, held: pa.Array | None = None) -> pa.Array:
    """Mask of the export's rows that must go: their source record was purged, or their own retention ended.

    `held` masks rows whose source record a legal hold keeps: their retention ending does not
    remove them (the copy taken out may be the evidence); a purged record is never held.
    """
    ids = manifest.column(SOURCE_RECORD_ID).combine_chunks()
    gone = pc.is_in(ids, value_set=purged.cast(pa.string()))
    expired = pc.fill_null(
        pc.less(manifest.column("retention_until").combine_chunks(), pa.scalar(as_of, pa.date32())), False
    )
    if held is not None:
        expired = pc.and_(expired, pc.invert(held))
    return pc.or_(gone, expired)


def recall_of(receipt: ExportReceipt, records: int) -> ExportRecall | None:
    """The recall entry for an export's delivered copy (None when nothing was handed out or nothing changed)."""
    if receipt.delivered is None or not records:
        return None
    return ExportRecall(
        export_id=receipt.export_id, file=receipt.delivered.key, sha256=receipt.delivered.sha256, records=records
    )


HeldRows = Callable[[ExportReceipt, pa.Table], pa.Array]  # (receipt, manifest) → mask of rows a hold keeps


def plan_export_purge(
    store: ObjectStore, purged: pa.Array, as_of: date, held: HeldRows | None = None
) -> list[PlannedExport]:
    """Every held export with rows of `purged` records or rows past their retention as of `as_of` (not held)."""
    planned = []
    for receipt in held_exports(store):
        manifest = read_export_manifest(store, receipt)
        due = due_rows(manifest, purged, as_of, held(receipt, manifest) if held else None)
        removed = pc.sum(due).as_py() or 0
        if not removed or not store.exists(receipt.data.key):
            continue
        kept = manifest.num_rows - removed
        remove = sorted(set(manifest.column(SOURCE_RECORD_ID).filter(due).to_pylist()))
        planned.append(
            PlannedExport(
                export_id=receipt.export_id,
                remove=remove,
                data=_action(store, receipt.data.key, removed, kept),
                manifest=_action(store, receipt.manifest.key, removed, kept),
                recall=recall_of(receipt, removed),
            )
        )
    return planned


def _action(store: ObjectStore, key: str, removed: int, kept: int) -> FileAction:
    return FileAction(
        key=key,
        action="rewrite" if kept else "delete",
        method="rewrite without the purged records' rows" if kept else "whole-file delete",
        sha256_before=object_sha256(store, key),
        records_removed=removed,
        records_kept=kept,
    )


def carry_out_export(store: ObjectStore, planned: PlannedExport) -> list[FileAction]:
    """Rewrite (or delete) both files of one planned export; a file already done is not touched again."""
    remove = pa.array(planned.remove, pa.string())
    return [_purge_file(store, action, remove) for action in (planned.data, planned.manifest)]


def _purge_file(store: ObjectStore, action: FileAction, remove: pa.Array) -> FileAction:
    if not store.exists(action.key):
        return action  # deleted already, by this run before a crash
    with store.reading(action.key) as path:
        table = pq.read_table(path)
    keep = pc.invert(pc.is_in(table.column(SOURCE_RECORD_ID), value_set=remove))
    if pc.all(keep).as_py():  # rewritten before a crash; its older versions may not have been pruned yet
        return _after(store, _with_versions(action, store.prune_versions(action.key)))
    if not pc.any(keep).as_py():
        versions = store.delete(action.key)
        done = action.model_copy(update={"action": "delete", "method": "whole-file delete"})
        return _with_versions(done, versions)
    with store.writing(action.key) as target:
        pq.write_table(table.filter(keep), target, compression="zstd")
    versions = store.prune_versions(action.key)  # on S3 the old version still held the purged rows
    return _after(store, _with_versions(action, versions))


def _with_versions(action: FileAction, versions: list[str]) -> FileAction:
    return action.model_copy(update={"versions_removed": versions}) if versions else action


def _after(store: ObjectStore, action: FileAction) -> FileAction:
    return action.model_copy(update={"sha256_after": object_sha256(store, action.key)})


def correct_exports(
    store: ObjectStore, dataset: str, record_id: str, new_row: pa.Table, changed: Iterable[str]
) -> tuple[list[FileChange], list[ExportRecall]]:
    """Give every held export of `dataset` holding the record the corrected values of its own columns.

    `new_row` is the corrected curated row; only columns in `changed` that the export released are
    written. Returns each data file rewritten (its hash before and after) and the delivered copies
    that still hold the old values (to recall).
    """
    changes, recalls = [], []
    for receipt in held_exports(store):
        columns = [c for c in changed if c in receipt.columns]
        if receipt.dataset != dataset or not columns or not store.exists(receipt.data.key):
            continue
        data = read_export(store, receipt)
        mask = pc.equal(data.column(SOURCE_RECORD_ID), record_id)
        rows = pc.sum(mask).as_py() or 0
        if not rows:
            continue
        before = object_sha256(store, receipt.data.key)
        for name in columns:
            data = _set(data, name, mask, new_row.column(name)[0].as_py())
        with store.writing(receipt.data.key) as target:
            pq.write_table(data, target, compression="zstd")
        changes.append(
            FileChange(key=receipt.data.key, sha256_before=before, sha256_after=object_sha256(store, receipt.data.key))
        )
        if (recall := recall_of(receipt, rows)) is not None:
            recalls.append(recall)
    return changes, recalls


def _set(table: pa.Table, name: str, mask: pa.Array, value: Any) -> pa.Table:
    index = table.schema.get_field_index(name)
    field = table.schema.field(index)
    return table.set_column(index, field, pc.if_else(mask, pa.scalar(value, field.type), table.column(index)))

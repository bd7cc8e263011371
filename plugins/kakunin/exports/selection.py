"""Which records an export for a purpose may release, read column-pruned and vectorised.

A record is released when its manifest row carries the purpose and it is live: still in its
curated file (not purged), within its retention, not stopped (利用停止) and not reached by an
erasure request still pending. The manifests say which records carry the purpose; the curated
files hold the values, read with only the purpose's columns and a filter on `record_id`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kakunin.exports.formats import EXPORT_MANIFEST_SCHEMA, SOURCE_RECORD_ID
from kakunin.layout import parse_manifest_header_key
from kakunin.lineage.chain import linked_manifests
from kakunin.lineage.formats import RETURN_BY
from kakunin.storage import ObjectStore

__all__ = ["EXCLUDED_REASONS", "Excluders", "Selection", "candidates", "select_records"]

# Why a record carrying the purpose was not released, in the order they are judged (one reason per record).
ERASURE_REQUESTED, STOPPED, EXPIRED = "erasure-requested", "stopped", "expired"
EXCLUDED_REASONS = (ERASURE_REQUESTED, STOPPED, EXPIRED)
_MANIFEST_COLUMNS = ["record_id", "batch_id", "purposes", "retention_until", "subject_digest", "curated_file"]


@dataclass(frozen=True)
class Excluders:
    """What keeps a record out: ids and subject digests an erasure request names, ids stopped, the day."""

    erasure_ids: frozenset[str] = frozenset()
    erasure_subject_digests: frozenset[str] = frozenset()
    stopped_ids: frozenset[str] = frozenset()
    today: date = date.min


@dataclass(frozen=True)
class Selection:
    """The released rows (source_record_id first, then the purpose's columns), their manifest, and the rest."""

    released: pa.Table
    manifest: pa.Table
    excluded: dict[str, int] = field(default_factory=dict)

    @property
    def source_batches(self) -> list[str]:
        return sorted(set(self.manifest.column("batch_id").to_pylist()))


def candidates(store: ObjectStore, dataset: str, purpose: str) -> pa.Table:
    """The manifest rows of `dataset` (only the columns a selection needs) whose purposes include `purpose`."""
    parts = []
    for header_key, manifest_key in linked_manifests(store):
        ref = parse_manifest_header_key(header_key)
        if ref is None or ref.dataset != dataset:
            continue
        with store.open_input(manifest_key) as handle:
            parquet = pq.ParquetFile(handle)
            entrusted = RETURN_BY in parquet.schema_arrow.names  # manifests before provenance v2 have no return_by
            table = parquet.read(columns=[*_MANIFEST_COLUMNS, *([RETURN_BY] if entrusted else [])])
        if not entrusted:
            table = table.append_column(RETURN_BY, pa.nulls(table.num_rows, pa.date32()))
        parts.append(carrying(table, purpose))
    if not parts:
        return pa.schema([(n, _type(n)) for n in [*_MANIFEST_COLUMNS, RETURN_BY]]).empty_table()
    return pa.concat_tables(parts, promote_options="permissive")


def _type(name: str) -> pa.DataType:
    dates = {"retention_until": pa.date32(), RETURN_BY: pa.date32()}
    return {"purposes": pa.list_(pa.string()), **dates}.get(name, pa.string())


def carrying(table: pa.Table, purpose: str) -> pa.Table:
    """The rows of `table` whose `purposes` list contains `purpose`."""
    purposes = table.column("purposes").combine_chunks()
    flat = pc.list_flatten(purposes)
    owners = pc.list_parent_indices(purposes)
    rows = pc.unique(pc.filter(owners, pc.equal(flat, purpose)))
    return table.take(rows)  # parent indices ascend, and unique keeps their order


def _return_by(rows: pa.Table) -> pa.ChunkedArray:
    """The rows' return_by (entrusted data), all null when the rows carry none."""
    if RETURN_BY in rows.column_names:
        return rows.column(RETURN_BY)
    return pa.chunked_array([pa.nulls(rows.num_rows, pa.date32())])


def exclusions(rows: pa.Table, excluders: Excluders) -> tuple[pa.Table, dict[str, int]]:
    """`rows` without the records kept out, and how many were kept out, by why."""
    ids = rows.column("record_id")
    today = pa.scalar(excluders.today, pa.date32())
    reasons = {
        ERASURE_REQUESTED: pc.or_(
            pc.is_in(ids, value_set=_strings(excluders.erasure_ids)),
            pc.is_in(rows.column("subject_digest"), value_set=_strings(excluders.erasure_subject_digests)),
        ),
        STOPPED: pc.is_in(ids, value_set=_strings(excluders.stopped_ids)),
        EXPIRED: pc.or_(  # past its retention, or entrusted data past the day it goes back to the client
            pc.less(rows.column("retention_until"), today),
            pc.fill_null(pc.less(_return_by(rows), today), False),
        ),
    }
    kept_out = pc.fill_null(pa.nulls(rows.num_rows, pa.bool_()), False)
    counts: dict[str, int] = {}
    for reason in EXCLUDED_REASONS:
        newly = pc.and_(reasons[reason], pc.invert(kept_out))
        if count := pc.sum(newly).as_py() or 0:
            counts[reason] = count
        kept_out = pc.or_(kept_out, reasons[reason])
    return rows.filter(pc.invert(kept_out)), counts


def _strings(values: frozenset[str]) -> pa.Array:
    return pa.array(sorted(values), pa.string())


def select_records(
    store: ObjectStore, dataset: str, purpose: str, columns: list[str], excluders: Excluders
) -> Selection:
    """The records of `dataset` an export for `purpose` releases, with only `columns` of each."""
    eligible, excluded = exclusions(candidates(store, dataset, purpose), excluders)
    files = eligible.column("curated_file")
    parts = [
        _curated_rows(store, key, eligible.filter(pc.equal(files, key)).column("record_id"), columns)
        for key in sorted(pc.unique(files).to_pylist())
    ]
    present = [p for p in parts if p is not None]  # a file a purge removed whole holds nothing to release
    values = pa.concat_tables(present, promote_options="permissive") if present else None
    if values is None or values.num_rows == 0:
        empty = pa.table({SOURCE_RECORD_ID: pa.array([], pa.string())})
        return Selection(
            released=_empty_values(columns, empty), manifest=EXPORT_MANIFEST_SCHEMA.empty_table(), excluded=excluded
        )
    values = values.rename_columns([SOURCE_RECORD_ID, *columns]).sort_by(SOURCE_RECORD_ID)
    listed = eligible.select(["record_id", "batch_id", "retention_until"]).rename_columns(
        [SOURCE_RECORD_ID, "batch_id", "retention_until"]
    )
    manifest = values.select([SOURCE_RECORD_ID]).join(listed, SOURCE_RECORD_ID, join_type="left outer")
    manifest = manifest.sort_by(SOURCE_RECORD_ID).select(EXPORT_MANIFEST_SCHEMA.names).cast(EXPORT_MANIFEST_SCHEMA)
    return Selection(released=values, manifest=manifest, excluded=excluded)


def _curated_rows(store: ObjectStore, key: str, ids: pa.ChunkedArray, columns: list[str]) -> pa.Table | None:
    """The rows of `ids` still in curated file `key` (None when the file is gone), record_id first."""
    if not store.exists(key):
        return None
    with store.open_input(key) as handle:
        return pq.read_table(
            handle,
            columns=["record_id", *columns],
            filters=pc.is_in(pc.field("record_id"), value_set=ids.combine_chunks()),
        )


def _empty_values(columns: list[str], empty: pa.Table) -> pa.Table:
    for name in columns:
        empty = empty.append_column(name, pa.array([], pa.null()))
    return empty

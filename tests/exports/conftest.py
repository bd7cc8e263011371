"""Exports made straight from a published store's curated records, for the tests of what reaches them.

`make_export` stands in for the selection (`kakunin.exports.release`): it takes the batch's
records carrying the purpose, projects the purpose's columns plus `source_record_id`, and
writes the files and the receipt through `kakunin.exports.store`, as a release does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from kakunin.contracts import Registry
from kakunin.exports.formats import SOURCE_RECORD_ID, ExportReceipt
from kakunin.exports.store import latest_retention, write_files, write_receipt
from kakunin.layout import BatchRef
from kakunin.lineage.formats import StoredObject
from kakunin.storage import ObjectStore
from tests.subjects.conftest import _two_providers_store, two_providers  # noqa: F401 (fixtures)
from tests.subjects.conftest import store as store  # the fixture two_providers copies into

MakeExport = Callable[..., ExportReceipt]


def _released(store: ObjectStore, ref: BatchRef, purpose: str, columns: list[str]) -> tuple[pa.Table, pa.Table]:
    """(released rows, export manifest) of the batch's records whose provenance allows `purpose`."""
    with store.open_input(ref.manifest_parquet) as handle:
        rows = pq.read_table(handle, columns=["record_id", "batch_id", "retention_until", "purposes", "curated_file"])
    rows = rows.filter(pa.array([purpose in p for p in rows.column("purposes").to_pylist()]))
    assert rows.num_rows, f"no record of {ref.batch_id} carries {purpose}"
    records = []
    for key in sorted(set(rows.column("curated_file").to_pylist())):
        with store.open_input(key) as handle:
            records.append(pq.read_table(handle, columns=["record_id", *columns]))
    data = pa.concat_tables(records)
    data = data.filter(pc.is_in(data.column("record_id"), value_set=rows.column("record_id"))).sort_by("record_id")
    data = data.rename_columns([SOURCE_RECORD_ID, *columns]).select([*columns, SOURCE_RECORD_ID])
    ids = data.column(SOURCE_RECORD_ID)
    by_id = {r["record_id"]: r for r in rows.to_pylist()}
    manifest = pa.table(
        {
            SOURCE_RECORD_ID: ids,
            "batch_id": [by_id[i]["batch_id"] for i in ids.to_pylist()],
            "retention_until": [by_id[i]["retention_until"] for i in ids.to_pylist()],
        }
    )
    return data, manifest


def export_batch(
    store: ObjectStore,
    registry: Registry,
    ref: BatchRef,
    export_id: str,
    *,
    purpose: str = "marketing_email",
    delivered: bool = False,
) -> ExportReceipt:
    """Release the batch's records for `purpose` as export `export_id` (handed out as `<export_id>.csv`)."""
    contract = registry.contract(ref.dataset)
    assert contract is not None
    columns = contract.export_columns[purpose]
    data, manifest = _released(store, ref, purpose, columns)
    stored, listed = write_files(store, ref.dataset, export_id, data, manifest)
    handed = StoredObject(key=f"{export_id}.csv", sha256="ab" * 32, rows=data.num_rows) if delivered else None
    receipt = ExportReceipt(
        export_id=export_id,
        dataset=ref.dataset,
        purpose=purpose,
        columns=columns,
        requested_by="staff:sato",
        actor="staff:sato",
        created_at=datetime.now(UTC),
        rows=data.num_rows,
        source_batches=[ref.batch_id],
        retention_until=latest_retention(manifest),
        data=stored,
        manifest=listed,
        delivered=handed,
    )
    write_receipt(store, receipt)
    return receipt


@pytest.fixture
def make_export(registry: Registry) -> MakeExport:
    """`make_export(store, ref, export_id, purpose=…, delivered=…)`: `export_batch` with the contracts."""

    def make(store: ObjectStore, ref: BatchRef, export_id: str, **options: Any) -> ExportReceipt:
        return export_batch(store, registry, ref, export_id, **options)

    return make

"""The export tests' stores.

`published`: a published store whose two batches carry different purposes, for the tests of
what `kakunin export` releases. `email_only` (seed 41) is received for marketing_email alone and
holds 花子 as C9000001; `research` (seed 42) for marketing_email and product_research. Each has
21 rows.

`make_export`: exports made straight from one batch's curated records of the two-providers store,
for the tests of what reaches them (purges, erasures, corrections). It stands in for the selection
(`kakunin.exports.release`, tested on its own): it takes the batch's records carrying the purpose,
projects the purpose's columns plus `source_record_id`, and writes the files, the receipt and the
export's audit entry (which pins the receipt) as a release does.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from kakunin import audit
from kakunin.contracts import Registry
from kakunin.exports.formats import SOURCE_RECORD_ID, ExportReceipt
from kakunin.exports.store import latest_retention, write_files, write_receipt
from kakunin.layout import BatchRef
from kakunin.lineage.formats import AuditAction, StoredObject
from kakunin.storage import LocalStore, ObjectStore
from kakunin_dev.people import HANAKO, plant
from tests.conftest import Run, kakunin_runner
from tests.subjects.conftest import KEY, _two_providers_store, submit_and_run, two_providers  # noqa: F401 (fixtures)
from tests.subjects.conftest import store as store  # the fixture two_providers copies into

ROWS = 21


def research_too(doc: dict[str, Any], batch: Path) -> None:
    """The batch is received for product research as well (its consent and notice already name it)."""
    doc["purposes"] = ["marketing_email", "product_research"]


@dataclass
class Published:
    store: LocalStore
    email_only: BatchRef
    research: BatchRef


@pytest.fixture(scope="session")
def _published_store(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> tuple[Path, BatchRef, BatchRef]:
    """Published once per session (intake runs GX); each test gets a copy."""
    root = tmp_path_factory.mktemp("exports")
    store = LocalStore(root / "store")
    email_only, outcome = submit_and_run(
        root, store, registry, "email_only", seed=41, data_mutation=plant([(HANAKO, "C9000001")])
    )
    assert outcome.decision == "published", outcome
    research, outcome = submit_and_run(root, store, registry, "research", seed=42, mutation=research_too)
    assert outcome.decision == "published", outcome
    return root / "store", email_only, research


@pytest.fixture
def published(_published_store: tuple[Path, BatchRef, BatchRef], tmp_path: Path) -> Published:
    template, email_only, research = _published_store
    store = LocalStore(tmp_path / "store")
    shutil.copytree(template, store.root, dirs_exist_ok=True)
    return Published(store=store, email_only=email_only, research=research)


@pytest.fixture
def cli(published: Published) -> Callable[..., Run]:
    """The real `kakunin` command on the test's copy of the store."""
    return kakunin_runner(published.store.root, base_env={"KAKUNIN_HMAC_KEY": KEY.hex()})


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
    pinned = write_receipt(store, receipt)
    detail: audit.Detail = {"export_id": export_id, "receipt_sha256": pinned, "purpose": purpose, "rows": data.num_rows}
    at = receipt.created_at
    audit.record(store, AuditAction.EXPORT, at=at, actor=receipt.actor, dataset=ref.dataset, detail=detail, key=KEY)
    return receipt


@pytest.fixture
def make_export(registry: Registry) -> MakeExport:
    """`make_export(store, ref, export_id, purpose=…, delivered=…)`: `export_batch` with the contracts."""

    def make(store: ObjectStore, ref: BatchRef, export_id: str, **options: Any) -> ExportReceipt:
        return export_batch(store, registry, ref, export_id, **options)

    return make

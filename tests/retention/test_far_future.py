"""A retention clock column with far-future dates: the contract's maximum holds per record, nothing overflows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kakunin.batches import submit_batch
from kakunin.contracts import Registry
from kakunin.intake.run import run_batch
from kakunin.intake.work import find_pending
from kakunin.layout import BatchRef
from kakunin.lineage.trace import trace
from kakunin.lineage.verify import verify
from kakunin.retention.erasure import erase_request
from kakunin.retention.purge import RetentionContext, dry_run, make_plan, run_retention
from kakunin.storage import LocalStore
from kakunin_dev.samples import _edit_rows, write_batch
from tests.conftest import RECEIVED_ON, TODAY, edits
from tests.intake.conftest import KEY, make_context

MakeContext = Callable[..., RetentionContext]
FAR = {1: "2099-12-31", 2: "9999-12-31"}  # data rows (1-based) whose clock is far in the future
LATEST = date(2031, 11, 20)  # received_on + the contract's max_retention (P5Y)
BEFORE_ANY_EXPIRY = date(2024, 1, 1)  # the erasure request is the only reason to purge


def _far_future_clock(path: Path) -> None:
    def edit(rows: list[list[str]]) -> None:
        column = rows[0].index("last_purchase_on")
        for row, value in FAR.items():
            rows[row][column] = value

    _edit_rows(path, edit)


@pytest.fixture
def far_future(tmp_path: Path, registry: Registry) -> tuple[LocalStore, BatchRef]:
    store = LocalStore(tmp_path / "store")
    folder = write_batch(
        tmp_path / "far",
        document_id="PRV-2026-650001",
        received_on=RECEIVED_ON,
        rows=40,
        seed=21,
        mutation=edits(retention__period="P1Y", retention__clock="column:last_purchase_on"),
        data_mutation=_far_future_clock,
    )
    result = submit_batch(folder, store=store, registry=registry, today=TODAY, now=datetime.now(UTC))
    assert result.landed, result.verdict.findings
    (ref,) = [r for r in find_pending(store) if r.batch_id == result.batch_id]
    assert run_batch(ref, make_context(store, registry)).decision == "published"
    return store, ref


def _manifest(store: LocalStore) -> pa.Table:
    return pq.read_table(next((store.root / "lineage/manifests").rglob("manifest.parquet"))).sort_by("source_row")


def test_far_future_clock_dates_are_clamped_to_the_contract_maximum_and_flagged(
    far_future: tuple[LocalStore, BatchRef],
) -> None:
    store, _ = far_future
    rows = {r["source_row"]: r for r in _manifest(store).to_pylist()}
    for row in FAR:
        assert rows[row]["retention_until"] == LATEST
        assert "clamped" in rows[row]["retention_clock"]
        assert "P5Y" in rows[row]["retention_clock"]
    assert all(r["retention_until"] <= LATEST for r in rows.values())
    assert not any("clamped" in r["retention_clock"] for n, r in rows.items() if n not in FAR)
    header = next((store.root / "lineage/manifests").rglob("manifest.json")).read_text()
    assert '"retention_clamped": 2' in header
    story = trace(store, rows[2]["record_id"])
    assert story.retention_until == LATEST
    assert "clamped" in story.retention_clock
    assert verify(store, today=TODAY).intact


def test_an_erasure_request_over_clamped_records_runs_dry_and_for_real(
    far_future: tuple[LocalStore, BatchRef], retention_context: MakeContext
) -> None:
    store, _ = far_future
    manifest = _manifest(store)
    rows = {r["source_row"]: r for r in manifest.to_pylist()}
    curated = pq.read_table(sorted((store.root / "curated").rglob("part-*.parquet")))
    customer = curated.filter(pa.compute.equal(curated["record_id"], rows[2]["record_id"]))["customer_no"][0].as_py()
    request, matches = erase_request(
        store,
        dataset="jp_customer_leads",
        subject_key=[customer],
        reason="subject asked",
        key=KEY,
        requested_by="privacy-desk",
        now=datetime.now(UTC),
    )
    assert matches.records == 1
    summary = dry_run(make_plan(retention_context(store, BEFORE_ANY_EXPIRY)))
    assert summary.erasure_requests == [request.request_id]
    assert sum(r["records"] for r in summary.rows) == 1
    (certificate,) = run_retention(retention_context(store, BEFORE_ANY_EXPIRY))
    assert certificate.purged_count == 1
    story = trace(store, rows[2]["record_id"])
    assert story.purged_by == certificate.run_id
    assert trace(store, rows[1]["record_id"]).status.startswith("live")
    assert verify(store, today=TODAY).intact

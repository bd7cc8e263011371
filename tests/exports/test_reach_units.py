"""The pure parts of reaching exports: which rows go, which copies to recall, which hash verify expects."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa

from kakunin.exports.formats import EXPORT_MANIFEST_SCHEMA, ExportReceipt
from kakunin.exports.reach import due_rows, recall_of
from kakunin.lineage.export_check import ExportLedger
from kakunin.lineage.formats import Hold, StoredObject
from kakunin.retention.exports import held_rows

MANIFEST = pa.table(
    {
        "source_record_id": ["r1", "r2", "r3", "r4"],
        "batch_id": ["b"] * 4,
        "retention_until": [date(2027, 1, 1), date(2030, 1, 1), date(2026, 6, 30), date(2030, 1, 1)],
    },
    schema=EXPORT_MANIFEST_SCHEMA,
)


def test_rows_of_purged_records_and_rows_past_their_retention_go_the_rest_stay() -> None:
    due = due_rows(MANIFEST, pa.array(["r2", "zz"]), date(2026, 7, 1))
    assert due.to_pylist() == [False, True, True, False]


def test_a_row_whose_retention_ends_on_the_as_of_day_stays() -> None:
    due = due_rows(MANIFEST, pa.array([], pa.string()), date(2027, 1, 1))
    assert due.to_pylist() == [False, False, True, False]  # like curated records: gone only when before as_of


def test_a_row_a_hold_keeps_stays_past_its_retention_but_not_once_its_record_is_purged() -> None:
    held = pa.array([False, True, True, False])
    due = due_rows(MANIFEST, pa.array(["r2"]), date(2027, 6, 1), held)
    assert due.to_pylist() == [True, True, False, False]


def test_holds_keep_the_rows_of_their_dataset_batch_or_record() -> None:
    receipt = _receipt(None)

    def hold(scope: str, target: str, dataset: str = "d") -> Hold:
        return Hold(
            hold_id=f"H-{scope}",
            scope=scope,  # type: ignore[arg-type]
            dataset=dataset,
            target=target,
            reason="case 1",
            placed_by="legal",
            placed_at=datetime(2026, 11, 1, tzinfo=UTC),
        )

    assert held_rows([])(receipt, MANIFEST).to_pylist() == [False] * 4
    assert held_rows([hold("record", "r3")])(receipt, MANIFEST).to_pylist() == [False, False, True, False]
    assert held_rows([hold("batch", "b")])(receipt, MANIFEST).to_pylist() == [True] * 4
    assert held_rows([hold("dataset", "d")])(receipt, MANIFEST).to_pylist() == [True] * 4
    assert held_rows([hold("dataset", "other", dataset="other")])(receipt, MANIFEST).to_pylist() == [False] * 4


def _receipt(delivered: StoredObject | None) -> ExportReceipt:
    stored = StoredObject(key="exports/d/E1/data.parquet", sha256="00" * 32, rows=4)
    return ExportReceipt(
        export_id="E1",
        dataset="d",
        purpose="marketing_email",
        columns=["email"],
        requested_by="staff:sato",
        actor="staff:sato",
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
        rows=4,
        source_batches=["b"],
        retention_until=date(2030, 1, 1),
        data=stored,
        manifest=stored.model_copy(update={"key": "exports/d/E1/manifest.parquet"}),
        delivered=delivered,
    )


def test_only_a_delivered_copy_that_held_the_rows_is_listed_for_recall() -> None:
    handed = StoredObject(key="E1.csv", sha256="ab" * 32, rows=4)
    recall = recall_of(_receipt(handed), 2)
    assert recall is not None
    assert (recall.export_id, recall.file, recall.sha256, recall.records) == ("E1", "E1.csv", "ab" * 32, 2)
    assert recall_of(_receipt(None), 2) is None
    assert recall_of(_receipt(handed), 0) is None


def test_the_expected_hash_follows_each_recorded_move_from_the_release() -> None:
    ledger = ExportLedger()
    assert ledger.expected("k", "h0") == "h0"  # never touched: as released
    ledger.move("k", "h0", "h1")  # a purge rewrote it
    ledger.move("k", "h1", "h2")  # a correction after it
    assert ledger.expected("k", "h0") == "h2"
    ledger.move("k", "h2", None)  # a later purge deleted it
    assert ledger.expected("k", "h0") is None
    assert ledger.expected("other", "h0") == "h0"


def test_a_file_corrected_back_and_forth_is_followed_to_its_last_state() -> None:
    ledger = ExportLedger()
    ledger.move("k", "h0", "h1")
    ledger.move("k", "h1", "h0")  # corrected, then corrected back
    assert ledger.expected("k", "h0") == "h0"
    ledger.move("k", "h0", "h3")  # and changed again
    assert ledger.expected("k", "h0") == "h3"

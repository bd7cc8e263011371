"""The pure parts of the selection: which manifest rows carry a purpose, and which are kept out and why."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from kakunin.exports.selection import Excluders, carrying, exclusions

TODAY = date(2026, 11, 27)


def rows() -> pa.Table:
    return pa.table(
        {
            "record_id": ["r1", "r2", "r3", "r4", "r5"],
            "purposes": [["a"], ["a", "b"], ["b"], [], ["b", "a"]],
            "retention_until": pa.array([TODAY, TODAY, TODAY, TODAY, date(2026, 11, 26)], pa.date32()),
            "subject_digest": ["s1", "s2", "s3", "s4", "s5"],
        }
    )


def test_carrying_keeps_the_rows_whose_purposes_include_it_in_order() -> None:
    assert carrying(rows(), "a").column("record_id").to_pylist() == ["r1", "r2", "r5"]
    assert carrying(rows(), "b").column("record_id").to_pylist() == ["r2", "r3", "r5"]
    assert carrying(rows(), "c").num_rows == 0


def test_each_record_kept_out_is_counted_once_under_the_first_reason() -> None:
    excluders = Excluders(
        erasure_ids=frozenset({"r1"}),
        erasure_subject_digests=frozenset({"s2"}),
        stopped_ids=frozenset({"r1", "r3"}),
        today=TODAY,
    )
    kept, counts = exclusions(rows(), excluders)
    assert kept.column("record_id").to_pylist() == ["r4"]
    assert counts == {"erasure-requested": 2, "stopped": 1, "expired": 1}


def test_a_record_on_its_last_day_is_still_released() -> None:
    kept, counts = exclusions(rows(), Excluders(today=TODAY))
    assert kept.column("record_id").to_pylist() == ["r1", "r2", "r3", "r4"]
    assert counts == {"expired": 1}

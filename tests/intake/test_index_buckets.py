"""The subject index staged in buckets by digest prefix, and read back in digest order as lineage does."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kakunin.intake.staging import Stager
from kakunin.intake.work import subject_rows_buckets
from kakunin.layout import BatchRef
from kakunin.storage import LocalStore
from kakunin.subjects.identifiers import INDEX_SCHEMA


def _rows(start: int, count: int) -> pa.Table:
    ids = [f"r{i:06d}" for i in range(start, start + count)]
    digests = [hashlib.sha256(i.encode()).hexdigest() for i in ids]
    return pa.table([pa.array(ids), pa.array(["email"] * count), pa.array(digests)], schema=INDEX_SCHEMA)


@pytest.mark.parametrize(("characters", "most_buckets"), [(0, 1), (1, 16), (2, 256)])
def test_buckets_hold_every_row_once_and_read_in_order_give_the_index_sorted(
    tmp_path: Path, characters: int, most_buckets: int
) -> None:
    store = LocalStore(tmp_path)
    ref = BatchRef("jp_customer_leads", "20260101T000000000001Z-00000000")
    with Stager(store, ref, bucket_characters=characters) as stager:
        for start in (0, 700, 1400):  # three chunks
            stager._add_index_rows(_rows(start, 700))
    buckets = subject_rows_buckets(list(store.list_keys(ref.work() + "/")))
    assert 1 <= len(buckets) <= most_buckets
    parts = [
        pq.read_table(tmp_path / key).sort_by([("digest", "ascending"), ("record_id", "ascending")]) for key in buckets
    ]
    published = pa.concat_tables(parts)
    assert published.num_rows == 2100
    expected = _rows(0, 2100).sort_by([("digest", "ascending"), ("record_id", "ascending")])
    assert published.equals(expected)

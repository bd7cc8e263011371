"""Screening's work file read back in step with assign's chunks, whatever the two chunk sizes."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kakunin.intake.kernels import RowsBySource
from kakunin.intake.work import IDENTIFIER_COLUMNS
from kakunin.lineage.formats import SOURCE_ROW


def _write(path: Path, rows: int, chunk: int, *, statistics: bool = True) -> None:
    """Two identifiers per source row, each chunk's rows shuffled (identifier by identifier, as screening writes)."""
    with pq.ParquetWriter(path, IDENTIFIER_COLUMNS, write_statistics=statistics) as writer:
        for start in range(1, rows + 1, chunk):
            source = list(range(start, min(start + chunk, rows + 1)))
            ordered = list(reversed(source)) + source  # not sorted inside the chunk
            table = pa.table(
                [
                    pa.array(ordered, pa.int64()),
                    pa.array(["email"] * len(source) + ["phone"] * len(source)),
                    pa.array([f"d{r}" for r in ordered]),
                ],
                schema=IDENTIFIER_COLUMNS,
            )
            writer.write_table(table, row_group_size=table.num_rows)


@pytest.mark.parametrize("statistics", [True, False])
@pytest.mark.parametrize(("written", "read"), [(3, 3), (3, 5), (5, 3), (4, 100), (100, 1)])
def test_each_chunk_gets_exactly_its_own_rows(tmp_path: Path, written: int, read: int, statistics: bool) -> None:
    path = tmp_path / "identifiers.parquet"
    _write(path, 23, written, statistics=statistics)
    reader = RowsBySource(path)
    for start in range(1, 24, read):
        last = min(start + read - 1, 23)
        got = reader.upto(last)
        assert sorted(got.column(SOURCE_ROW).to_pylist()) == sorted(list(range(start, last + 1)) * 2)
    assert reader.upto(10**9).num_rows == 0

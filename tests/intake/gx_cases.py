"""Small suites and conformed files for the accuracy tests: a few rows, so chunks can be tiny."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from kakunin.intake.conform import PARSE_FAILURES
from kakunin.lineage.formats import SOURCE_ROW

GOOD_POSTAL = "100-0005"
BAD_POSTAL = "1000005"


def write_suite(folder: Path, expectations: list[dict[str, Any]], name: str = "leads.accuracy") -> Path:
    path = folder / "accuracy_suite.json"
    path.write_text(json.dumps({"name": name, "expectations": expectations}), encoding="utf-8")
    return path


def write_conformed(
    path: Path, columns: dict[str, list[str | None]], *, first_row: int = 1, chunk_rows: int | None = None
) -> Path:
    """A conformed work file as the parse step leaves it: the columns, source row numbers, no parse failures,
    and a row group per parse chunk of `chunk_rows` rows (one row group when None)."""
    rows = len(next(iter(columns.values())))
    table = pa.table(
        {
            **{name: pa.array(values, pa.string()) for name, values in columns.items()},
            SOURCE_ROW: pa.array(range(first_row, first_row + rows), pa.int64()),
            PARSE_FAILURES: pa.array([[] for _ in range(rows)], pa.list_(pa.string())),
        }
    )
    pq.write_table(table, path, row_group_size=chunk_rows)
    return path


POSTAL_AND_UNIQUE = [
    {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "customer_no"}},
    {"type": "expect_column_values_to_be_jp_postal_code", "kwargs": {"column": "postal_code"}},
]

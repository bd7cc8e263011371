"""DuckDB as a vectorised kernel library: the per-row work Arrow's compute functions lack (SHA-256, translate).

Only ever handed Arrow tables and parameters, never a file or a user's text as SQL: the statements are
constants of the callers. One in-memory database per process, opened on first use (importing DuckDB
costs ~0.1 s); each call takes its own cursor, since a DuckDB connection is not shared between threads.
"""

from __future__ import annotations

import functools
from typing import Any

import pyarrow as pa


@functools.cache
def _database() -> Any:
    import duckdb

    return duckdb.connect(":memory:")


def select(sql: str, table: pa.Table, *, params: dict[str, object] | None = None) -> pa.Table:
    """The answer of `sql` (which reads the table `rows`) over `table`, in the table's row order.

    DuckDB keeps the order of a scan without ORDER BY (`preserve_insertion_order`, on by default);
    the row count is checked, so a result of another length is never taken for the column's values."""
    cursor = _database().cursor()
    try:
        cursor.register("rows", table)
        answer: pa.Table = cursor.sql(sql, params=params or {}).to_arrow_table()
    finally:
        cursor.close()
    if answer.num_rows != table.num_rows:
        raise RuntimeError(f"DuckDB returned {answer.num_rows} rows for {table.num_rows}")
    return answer

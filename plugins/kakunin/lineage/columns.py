"""Reading a few columns of a stored Parquet file without `pyarrow.dataset`.

`pq.read_table` goes through `pyarrow.dataset`, whose import pulls in pandas (~0.5 s of a
verify that otherwise needs neither); `pq.ParquetFile` reads the same columns directly. These
keep `read_table`'s answers: a missing column is an `ArrowInvalid`, and reading against a
schema casts each column to it and fills a column the file lacks with nulls.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def read_columns(source: Any, columns: list[str], *, optional: tuple[str, ...] = (), encoded: bool = False) -> pa.Table:
    """The named columns of a Parquet file (path or open file); `ArrowInvalid` if one is missing, as `read_table`.

    `optional` columns are read too when the file has them. `encoded`: they stay dictionary-encoded
    as stored (a column of a few distinct values, such as a manifest's `curated_file`, costs its
    codes, not a copy of the text per row).
    """
    parquet = pq.ParquetFile(source, read_dictionary=list(optional) if encoded else None)
    names = parquet.schema_arrow.names
    for name in columns:
        if name not in names:
            raise pa.ArrowInvalid(f"No match for FieldRef.Name({name}) in {parquet.schema_arrow}")
    return parquet.read(columns=[*columns, *(name for name in optional if name in names and name not in columns)])


def read_as(source: Any, schema: pa.Schema, columns: list[str] | None = None) -> pa.Table:
    """`pq.read_table(source, schema=schema, columns=columns)`: columns cast to the schema, missing ones null.

    A column of the schema that cannot be cast fails as the dataset read would, even when not read.
    """
    parquet = pq.ParquetFile(source)
    found = parquet.schema_arrow
    _check_castable(found, schema)
    wanted = [schema.field(name) for name in (columns if columns is not None else schema.names)]
    present = [f.name for f in wanted if f.name in found.names]
    table = parquet.read(columns=present) if present else None
    rows = parquet.metadata.num_rows
    arrays = [
        table.column(f.name).cast(f.type) if table is not None and f.name in present else pa.nulls(rows, f.type)
        for f in wanted
    ]
    return pa.Table.from_arrays(arrays, schema=pa.schema(wanted))


def column_blocks_as(source: Any, schema: pa.Schema, name: str, rows: int) -> Iterator[pa.ChunkedArray] | None:
    """`read_as(source, schema, [name])`'s one column, a block of row groups (about `rows` rows) at a time.

    A file of millions of rows is then never held whole, and the blocks' memory is reused as they are
    asked for. Fails as `read_as` does for a field that cannot be cast; None when the file lacks the
    column (`read_as` gives it as nulls: ask it).
    """
    parquet = pq.ParquetFile(source)
    found = parquet.schema_arrow
    _check_castable(found, schema)
    if name not in found.names:
        return None
    return _blocks(parquet, name, schema.field(name).type, rows)


def _check_castable(found: pa.Schema, schema: pa.Schema) -> None:
    """Fail as the dataset read would: it checks every field of the schema the file has, read or not."""
    for target in schema:
        if target.name in found.names:
            pa.nulls(0, found.field(target.name).type).cast(target.type)


def _blocks(parquet: pq.ParquetFile, name: str, to: pa.DataType, rows: int) -> Iterator[pa.ChunkedArray]:
    groups = [parquet.metadata.row_group(i).num_rows for i in range(parquet.metadata.num_row_groups)]
    start = 0
    while start < len(groups):
        end, size = start, 0
        while end < len(groups) and (size == 0 or size + groups[end] <= rows):
            size, end = size + groups[end], end + 1
        yield parquet.read_row_groups(list(range(start, end)), columns=[name]).column(name).cast(to)
        start = end
    if not groups:
        yield pa.chunked_array([], to)

"""Finding one record's rows in a Parquet file by reading only the row groups that can hold it.

Record ids are UUIDv7s, and intake stamps a whole batch with one millisecond, so the
`record_id` min/max every row group keeps in the file's footer is a narrow range: a lookup
by id reads the footers, passes by every file and row group whose range leaves the id out,
and reads the `record_id` column of the rest (then the whole row only where it matched).
That keeps `lineage trace` about as fast in a store of ten million manifest rows as in one
of a million. A row group without statistics (a writer that kept none) is always read.

The id is matched without `pyarrow.compute`: importing it builds ~300 function wrappers, about
50 ms of a trace's whole process, for one comparison a numpy view of the ids' bytes does (numpy
is loaded with pyarrow anyway).
"""

from __future__ import annotations

from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from kakunin.lineage.fixed_width import fixed_width_text

RECORD_ID = "record_id"
_BATCH = 8192

# Files looked up by record id (manifests, curated files) are written in row groups of at most
# this many rows: with ids sorted by source row, a lookup decodes one such group, not a chunk.
LOOKUP_ROW_GROUP_ROWS = 65_536


def may_hold(metadata: pq.FileMetaData, group: int, column: int, record_id: str) -> bool:
    """False only when the row group's footer statistics prove `record_id` is not in it."""
    stats = metadata.row_group(group).column(column).statistics
    if stats is None or not stats.has_min_max:
        return True
    low, high = stats.min, stats.max
    if not isinstance(low, str) or not isinstance(high, str):
        return True  # not the string statistics this reasoning rests on: read the group
    return low <= record_id <= high


def rows_with_id(source: BinaryIO | pa.NativeFile, record_id: str) -> pa.Table:
    """Every row of the Parquet file whose `record_id` is `record_id` (often none), all columns.

    Reads the footer, then only the row groups whose statistics allow the id: the same rows
    `pq.read_table(source, filters=[("record_id", "=", record_id)])` gives, in file order.
    """
    parquet = pq.ParquetFile(source)
    metadata = parquet.metadata
    column = _leaf_index(metadata, RECORD_ID)
    found = []
    for group in range(metadata.num_row_groups):
        if column is not None and not may_hold(metadata, group, column, record_id):
            continue
        ids = parquet.read_row_group(group, columns=[RECORD_ID]).column(RECORD_ID)
        positions = positions_of(ids, record_id)
        if positions:
            found.append(_rows_at(parquet, group, positions))
    if not found:
        return pa.Table.from_batches([], schema=parquet.schema_arrow)  # (Schema.empty_table imports pandas)
    return pa.concat_tables(found) if len(found) > 1 else found[0]


def _rows_at(parquet: pq.ParquetFile, group: int, positions: list[int]) -> pa.Table:
    """The rows at `positions` (ascending) of one row group, every column, decoding no further than the last.

    A whole row group of a manifest is a quarter of a million rows; the id is found from the
    `record_id` column alone, and the other columns are decoded in small batches up to it.
    """
    taken = []
    start = 0
    for batch in parquet.iter_batches(batch_size=_BATCH, row_groups=[group], use_threads=False):
        end = start + batch.num_rows
        taken += [batch.slice(p - start, 1) for p in positions if start <= p < end]
        if end > positions[-1]:
            break
        start = end
    return pa.Table.from_batches(taken, schema=parquet.schema_arrow)


def positions_of(ids: pa.ChunkedArray, text: str) -> list[int]:
    """The positions (ascending) of the values of `ids` equal to `text`; a null equals nothing.

    The answer of `pc.indices_nonzero(pc.equal(ids, text))`. Fixed-width text without nulls (record ids
    are 36-character UUIDs) is compared as rows of bytes; any other chunk value by value in Python.
    """
    wanted = text.encode()
    positions: list[int] = []
    start = 0
    for chunk in ids.chunks:
        found = fixed_width_text(chunk)
        if found is not None and found[1] == len(wanted):
            rows = found[0].reshape(len(chunk), len(wanted))
            hits = np.flatnonzero((rows == np.frombuffer(wanted, np.uint8)).all(axis=1))
            positions += (hits + start).tolist()
        else:
            positions += [start + i for i, value in enumerate(chunk.to_pylist()) if value == text]
        start += len(chunk)
    return positions


def _leaf_index(metadata: pq.FileMetaData, path: str) -> int | None:
    """The footer's column index of the top-level column `path`, or None when the file has none."""
    if metadata.num_row_groups == 0:
        return None
    group = metadata.row_group(0)
    for index in range(group.num_columns):
        if group.column(index).path_in_schema == path:
            return index
    return None

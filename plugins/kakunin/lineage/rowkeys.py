"""Exact comparisons of id and digest columns, sped up by a 64-bit key per row.

Verify compares millions of record ids and index rows as sets. Arrow's `is_in` hashes every
string and looks it up in a table of strings: about a microsecond a row here, most of a keyless
verify. Record ids and digests are fixed-width text (UUIDs, hex digests), so a row's bytes can
be folded into one integer with a few vectorised numpy operations; integers look up and sort
far faster than strings. A key only says where to look: every answer is confirmed by comparing
the strings themselves, and whatever a key cannot settle (a collision, a value of another width,
a null) is decided by the plain comparison. The answers are exactly `pc.is_in`'s and set equality.

Also the numpy ↔ Arrow conversions these comparisons need, written so that pyarrow does not
import pandas (`pa.array` of a numpy array, `to_numpy`: about half a second of a verify).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_BLOCK = 1 << 21  # rows compared at once: the confirming copies stay small at any size
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def arrow_of(values: np.ndarray) -> pa.Array:
    """A numpy array of integers or booleans as an Arrow array, without `pa.array`.

    `pa.array` on a numpy array (as `pa.scalar` and a plain Python value handed to a compute
    function) makes pyarrow import pandas, about half a second of a verify that needs none of it.
    """
    if values.dtype == np.bool_:
        bits = np.packbits(values, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values), [None, pa.py_buffer(values)])


def numpy_bools(mask: pa.Array) -> np.ndarray:
    """A boolean Arrow array without nulls as numpy booleans (`to_numpy` imports pandas)."""
    bits = np.unpackbits(np.frombuffer(mask.buffers()[1], np.uint8), bitorder="little")
    return bits[mask.offset : mask.offset + len(mask)].astype(np.bool_)


def dictionary_codes(indices: pa.Array) -> np.ndarray:
    """A dictionary array's codes (signed integers, no nulls) read in place (`to_numpy` imports pandas)."""
    dtype = np.dtype(f"<i{indices.type.bit_width // 8}")
    return np.frombuffer(indices.buffers()[1], dtype, len(indices), indices.offset * dtype.itemsize)


def _fixed_width(column: pa.Array) -> tuple[np.ndarray, int] | None:
    """(the column's text bytes, the width of each value), when every value has one width ≥ 8 and none is null."""
    n = len(column)
    if column.type != pa.string() or column.null_count or n == 0:
        return None
    offsets = np.frombuffer(column.buffers()[1], np.int32, n + 1, column.offset * 4)
    width = int(offsets[1] - offsets[0])
    data = column.buffers()[2]
    if data is None or width < 8 or int(offsets[-1] - offsets[0]) != width * n:
        return None
    if not (np.diff(offsets) == width).all():
        return None
    return np.frombuffer(data, np.uint8, width * n, int(offsets[0])), width


def row_keys(columns: list[pa.Array]) -> np.ndarray | None:
    """A 64-bit key per row over the columns' bytes (equal rows, equal keys); None if a column is not fixed-width."""
    key: np.ndarray | None = None
    for column in columns:
        found = _fixed_width(column)
        if found is None or (key is not None and len(key) != len(column)):
            return None
        text, width = found
        n = len(column)
        key = np.zeros(n, np.uint64) if key is None else key
        for start in sorted({*range(0, width - 7, 8), width - 8}):  # every byte, the last word overlapping
            word = np.ndarray((n,), np.dtype("<u8"), text, start, (width,))
            key = (key ^ word) * _MULTIPLIER
            key ^= key >> np.uint64(29)
    return key


def is_in(values: pa.Array, value_set: pa.Array) -> pa.Array:
    """`pc.is_in(values, value_set=value_set)`, found through row keys where the values allow it."""
    found, wanted = row_keys([values]), row_keys([value_set])
    if found is None or wanted is None:
        return pc.is_in(values, value_set=value_set)
    lookup = arrow_of(wanted)
    parts = []
    for start in range(0, len(values), _BLOCK):
        block = values.slice(start, _BLOCK)
        positions = pc.index_in(arrow_of(found[start : start + _BLOCK]), value_set=lookup)
        equal = pc.equal(block, pc.take(value_set, positions))  # null where no row has the key
        hit = pc.and_kleene(equal, pc.is_valid(equal))  # as fill_null(False), which builds a scalar: pandas
        unsure = pc.invert(hit)  # no row of that key, or another id under it: the strings decide
        if pc.any(unsure).as_py():
            hit = pc.replace_with_mask(hit, unsure, pc.is_in(block.filter(unsure), value_set=value_set))
        parts.append(hit)
    return pa.concat_arrays(parts) if parts else pc.is_in(values, value_set=value_set)


def same_rows(left: pa.Table, right: pa.Table, columns: list[str], *, keyed_by: list[str]) -> bool:
    """Whether the tables hold the same rows (as multisets) over `columns`: True is proven, row by row.

    Rows are paired by the key of their `keyed_by` columns and compared exactly, each of `right`'s
    rows with the `left` row of its key; False also when the keys cannot tell (a column not
    fixed-width, rows tied on a key in different orders), so a caller then compares as sets.
    """
    if left.num_rows != right.num_rows:
        return False
    if left.num_rows == 0:
        return True
    left_key, right_key = _table_keys(left, keyed_by), _table_keys(right, keyed_by)
    if left_key is None or right_key is None:
        return False
    left_order, right_order = np.argsort(left_key, kind="stable"), np.argsort(right_key, kind="stable")
    if not np.array_equal(left_key[left_order], right_key[right_order]):
        return False
    del left_key, right_key
    partner = np.empty_like(left_order)  # right row j ↔ left row partner[j]
    partner[right_order] = left_order
    del left_order, right_order
    for name in columns:
        ours, theirs = left.column(name), right.column(name)
        if ours.null_count or theirs.null_count or ours.type != theirs.type:
            return False
        for start in range(0, right.num_rows, _BLOCK):
            paired = pc.take(ours, arrow_of(partner[start : start + _BLOCK]))
            if not pc.all(pc.equal(paired, theirs.slice(start, _BLOCK))).as_py():
                return False
    return True


def _table_keys(table: pa.Table, names: list[str]) -> np.ndarray | None:
    """`row_keys` of the table's columns, a chunk at a time when the columns share their chunks (no copy)."""
    columns = [table.column(name) for name in names]
    layouts = {tuple(len(chunk) for chunk in column.chunks) for column in columns}
    if len(layouts) != 1:
        return row_keys([column.combine_chunks() for column in columns])
    parts = []
    for index in range(columns[0].num_chunks):
        if not len(columns[0].chunk(index)):
            continue
        part = row_keys([column.chunk(index) for column in columns])
        if part is None:
            return None
        parts.append(part)
    return np.concatenate(parts) if parts else None

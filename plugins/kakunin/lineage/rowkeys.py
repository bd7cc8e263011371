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

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kakunin.lineage.fixed_width import fixed_width_text

_BLOCK = 1 << 21  # rows compared at once: the confirming copies stay small at any size
_PIECE = 1 << 20  # rows `IdSet.is_in` looks up on one core at a time
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def _fixed_width(column: pa.Array) -> tuple[np.ndarray, int] | None:
    """`fixed_width_text`, for values of at least 8 bytes (a row key folds whole 8-byte words)."""
    found = fixed_width_text(column)
    return found if found is not None and found[1] >= 8 else None


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


def _words(width: int) -> list[int]:
    """Offsets of 8-byte words that cover every byte of a `width`-byte value (≥ 8), the last one overlapping."""
    return sorted({*range(0, width - 7, 8), width - 8})


def _fold(key: np.ndarray, text: np.ndarray, width: int) -> np.ndarray:
    """`key` folded with every byte of each `width`-byte row of `text`, in place."""
    n = len(key)
    for start in _words(width):  # each word carried up by an odd multiplier: two passes a word
        np.add(key, np.ndarray((n,), np.dtype("<u8"), text, start, (width,)), out=key)
        np.multiply(key, _MULTIPLIER, out=key)
    np.bitwise_xor(key, key >> np.uint64(29), out=key)  # the high bits, which hold every byte, mixed down
    return key


def row_keys(columns: list[pa.Array]) -> np.ndarray | None:
    """A 64-bit key per row over the columns' bytes (equal rows, equal keys); None if a column is not fixed-width."""
    key: np.ndarray | None = None
    for column in columns:
        found = _fixed_width(column)
        if found is None or (key is not None and len(key) != len(column)):
            return None
        text, width = found
        key = _fold(np.zeros(len(column), np.uint64) if key is None else key, text, width)
    return key


def is_in(values: pa.Array | pa.ChunkedArray, value_set: pa.Array) -> pa.Array | pa.ChunkedArray:
    """`pc.is_in(values, value_set=value_set)`, found through row keys where the values allow it (`IdSet`)."""
    return IdSet(value_set).is_in(values)


@dataclass(frozen=True)
class _Prepared:
    """A set's side of the lookups, made once: its keys grouped by their top bits, and its rows' bytes."""

    width: int
    grouped: _Grouped
    rows: np.ndarray


class IdSet:
    """A value set asked about many arrays in turn (an index file's ids, a block of row groups at a time).

    Each array's answers are exactly `pc.is_in(array, value_set=value_set)`: each value's key finds
    a row of the set with that key (`_positions`); the value is in the set when their bytes are
    equal. A value whose key no row has is not in the set (equal strings have equal keys); one
    whose key's row holds other bytes (a collision) is decided by `pc.is_in`. The set's side (its
    keys, grouped, and a copy of its rows) is made once, at the first array it can answer for.
    """

    def __init__(self, value_set: pa.Array) -> None:
        self.value_set = value_set
        self._wanted = _fixed_width(value_set)
        self._prepared: _Prepared | None = None

    def _prepare(self, wanted: tuple[np.ndarray, int]) -> _Prepared:
        if self._prepared is None:
            set_text, width = wanted
            n = len(self.value_set)
            grouped = _group(_fold(np.zeros(n, np.uint64), set_text, width))
            # the set's rows copied into numpy's memory (huge pages: the lookups below miss the TLB far less)
            rows = np.frombuffer(set_text, np.dtype(f"V{width}"), n).copy()
            self._prepared = _Prepared(width, grouped, rows)
        return self._prepared

    def is_in(self, values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
        """`pc.is_in(values, value_set=...)`; a chunked column is answered chunk by chunk, not copied whole."""
        given = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
        # pieces of at most _PIECE rows (slices, not copies): both cores share even a single chunk
        chunks = [c.slice(at, _PIECE) for c in given for at in range(0, len(c), _PIECE)]
        wanted = self._wanted
        found = [_fixed_width(chunk) for chunk in chunks]
        if not chunks or wanted is None or any(each is None or each[1] != wanted[1] for each in found):
            return pc.is_in(values, value_set=self.value_set)
        prepared = self._prepare(wanted)
        width, rows = prepared.width, prepared.rows
        texts = [each[0] for each in found if each is not None]
        starts = np.cumsum([0, *(len(chunk) for chunk in chunks)])
        position = _positions(_chunk_keys(texts, starts, width), prepared.grouped)
        word = np.dtype("<u8")
        answers: list[np.ndarray] = [np.zeros(0, np.bool_)] * len(chunks)
        unsure: list[np.ndarray] = [np.zeros(0, np.bool_)] * len(chunks)

        def confirm(index: int) -> None:
            n, ours = len(chunks[index]), texts[index]
            at = position[starts[index] : starts[index + 1]]
            hit = at >= 0
            theirs = rows[np.where(hit, at, 0)].view(np.uint8)  # the set's row under each value's key, side by side
            equal = np.ones(n, np.bool_)
            for offset in _words(width):
                ours_word = np.ndarray((n,), word, ours, offset, (width,))
                equal &= ours_word == np.ndarray((n,), word, theirs, offset, (width,))
            unsure[index] = hit & ~equal  # another string under the same key: the strings decide
            answers[index] = hit & equal

        _on_two_cores(confirm, len(chunks))
        if any(doubt.any() for doubt in unsure):
            doubtful = [chunk.filter(arrow_of(doubt)) for chunk, doubt in zip(chunks, unsure, strict=True)]
            decided = numpy_bools(pc.is_in(pa.concat_arrays(doubtful), value_set=self.value_set))
            taken = 0
            for answer, doubt in zip(answers, unsure, strict=True):
                count = int(doubt.sum())
                answer[doubt] = decided[taken : taken + count]
                taken += count
        out = [arrow_of(answer) for answer in answers]
        if isinstance(values, pa.ChunkedArray):
            return pa.chunked_array(out, pa.bool_())
        return out[0] if len(out) == 1 else arrow_of(np.concatenate(answers))


def _chunk_keys(texts: list[np.ndarray], starts: np.ndarray, width: int) -> np.ndarray:
    """The keys of every chunk's rows (`texts`, starting at `starts`), in one array."""
    keys = np.zeros(int(starts[-1]), np.uint64)

    def fold(index: int) -> None:
        _fold(keys[starts[index] : starts[index + 1]], texts[index], width)

    _on_two_cores(fold, len(texts))
    return keys


def _on_two_cores(work: Callable[[int], None], count: int) -> None:
    """`work(i)` for each i < count, the second half on another thread: numpy releases the GIL as it works."""
    half = count // 2
    if half == 0:
        for index in range(count):
            work(index)
        return

    def second_half() -> None:
        for index in range(half, count):
            work(index)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kakunin-rowkeys") as pool:
        other = pool.submit(second_half)
        for index in range(half):
            work(index)
        other.result()


_PART_BITS = 8  # keys are split by their top bits: each part's lookup table stays in the CPU's cache
_PARTS = 1 << _PART_BITS
_SHIFT = np.uint64(64 - _PART_BITS)


@dataclass(frozen=True)
class _Grouped:
    """Keys grouped by their top bits (a stable counting sort): `keys[order]`, and where each group ends."""

    order: np.ndarray
    ends: np.ndarray
    keys: np.ndarray


def _group(keys: np.ndarray) -> _Grouped:
    top = (keys >> _SHIFT).astype(np.uint8)
    order = np.argsort(top, kind="stable")
    ends = np.cumsum(np.bincount(top, minlength=_PARTS))
    del top
    return _Grouped(order, ends, keys[order])


def _positions(keys: np.ndarray, grouped_set: _Grouped) -> np.ndarray:
    """For each key, the position of a row of the set with that key (the first, as `pc.index_in`), or -1.

    Both sides are first grouped by their keys' top bits (`_group`; the set's once, by the caller),
    so each group's hash lookup works within a small table instead of missing the cache on every key.
    """
    ours = _group(keys)
    del keys
    set_order, set_ends, set_grouped = grouped_set.order, grouped_set.ends, grouped_set.keys
    grouped, ends = ours.keys, ours.ends
    found = np.full(len(grouped), -1, np.int32 if len(set_grouped) < 1 << 31 else np.int64)
    start = set_start = 0
    for part in range(_PARTS):
        end, set_end = int(ends[part]), int(set_ends[part])
        if end > start and set_end > set_start:
            local = pc.index_in(arrow_of(grouped[start:end]), value_set=arrow_of(set_grouped[set_start:set_end]))
            codes = np.frombuffer(local.buffers()[1], np.int32, len(local), local.offset * 4)
            valid = numpy_bools(pc.is_valid(local))
            found[start:end] = np.where(valid, set_order[set_start + np.where(valid, codes, 0)], -1)
        start, set_start = end, set_end
    del grouped
    position = np.empty_like(found)
    position[ours.order] = found
    return position


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

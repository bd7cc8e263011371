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
_PIECE = 1 << 18  # rows `IdSet.is_in` looks up on one core at a time (its temporaries stay a few MB)
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


@dataclass(frozen=True)
class _Prepared:
    """A set's side of the lookups, made once: its keys and rows grouped by bucket (the keys' top bits)."""

    width: int
    shift: np.uint64  # a key's bucket: key >> shift
    starts: np.ndarray  # bucket b's rows are [starts[b], starts[b + 1])
    keys: np.ndarray
    rows: np.ndarray


_PROBES = 16  # set rows of a bucket tried per value; a value not settled by then is decided by `pc.is_in`


class IdSet:
    """A value set asked about many arrays in turn (an index file's ids, a block of row groups at a time).

    Each array's answers are exactly `pc.is_in(array, value_set=value_set)`: each value's key finds
    a row of the set with that key (`_look_up`, in its bucket); the value is in the set when their bytes are
    equal. A value whose key no row has is not in the set (equal strings have equal keys); one
    whose key's row holds other bytes (a collision), or that a crowded bucket did not settle, is
    decided by `pc.is_in`. The set's side (its keys and rows grouped into about as many buckets as
    rows, by the keys' top bits) is made once, at the first array it can answer for, and only read
    after: pieces of an array are looked up on both cores, each in a few gathers, without hashing
    the set again per piece.
    """

    def __init__(self, value_set: pa.Array) -> None:
        self.value_set = value_set
        self._wanted = _fixed_width(value_set)
        self._prepared: _Prepared | None = None

    def _prepare(self, wanted: tuple[np.ndarray, int]) -> _Prepared:
        if self._prepared is None:
            set_text, width = wanted
            n = len(self.value_set)
            keys = _fold(np.zeros(n, np.uint64), set_text, width)
            bits = max(1, n.bit_length())  # 2**bits buckets: one row each on average, or fewer
            shift = np.uint64(64 - bits)
            bucket = keys >> shift
            order = _bucket_order(bucket, bits)
            counts = np.bincount(bucket.astype(np.intp), minlength=1 << bits)
            del bucket
            starts = np.zeros((1 << bits) + 1, np.int32 if n < 1 << 31 else np.int64)
            np.cumsum(counts, out=starts[1:])
            del counts
            # keys and rows in bucket order, in numpy's memory (huge pages: the lookups miss the TLB far less);
            # rows as a 2-D byte array: `np.take` gathers them ~1.7x faster than a `V{width}` array's indexing
            rows = np.take(set_text[: n * width].reshape(n, width), order, axis=0)
            self._prepared = _Prepared(width, shift, starts, keys[order], rows)
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
        texts = [each[0] for each in found if each is not None]
        answers: list[np.ndarray] = [np.zeros(0, np.bool_)] * len(chunks)
        unsure: list[np.ndarray] = [np.zeros(0, np.bool_)] * len(chunks)

        def look_up(index: int) -> None:
            answers[index], unsure[index] = _look_up(texts[index], prepared)

        _on_two_cores(look_up, len(chunks))
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


def _bucket_order(bucket: np.ndarray, bits: int) -> np.ndarray:
    """A stable order of the rows by bucket: two 16-bit radix passes (numpy sorts 16-bit values by radix)."""
    if bits > 32:
        return np.argsort(bucket, kind="stable")
    low = np.argsort((bucket & np.uint64(0xFFFF)).astype(np.uint16), kind="stable")
    if bits <= 16:
        return low
    high = (bucket >> np.uint64(16)).astype(np.uint16)[low]
    return low[np.argsort(high, kind="stable")]


def _look_up(text: np.ndarray, prepared: _Prepared) -> tuple[np.ndarray, np.ndarray]:
    """(in the set, to be decided by the strings) for each `width`-byte row of `text`.

    A row's bucket's set rows are tried in turn for its key (`_PROBES` at most); the first with it
    is compared byte for byte."""
    width, keys = prepared.width, prepared.keys
    n = len(text) // width
    key = _fold(np.zeros(n, np.uint64), text, width)
    bucket = (key >> prepared.shift).astype(np.intp)
    low, high = prepared.starts[bucket], prepared.starts[1:][bucket]
    del bucket
    position = np.where(low < high, low, -1)
    found = keys[np.maximum(position, 0)] == key
    np.putmask(position, ~found, -1)
    rest = np.flatnonzero(~found & (low + 1 < high))  # another row of the bucket may hold the key
    candidate = low[rest] + 1
    for _ in range(_PROBES - 1):
        if not len(rest):
            break
        found = keys[candidate] == key[rest]
        position[rest[found]] = candidate[found]
        more = ~found & (candidate + 1 < high[rest])
        rest, candidate = rest[more], candidate[more] + 1
    unsettled = np.zeros(n, np.bool_)
    unsettled[rest] = True  # a crowded bucket (colliding keys): the strings decide
    del key, low, high, rest, candidate
    hit = position >= 0
    theirs = np.take(prepared.rows, np.maximum(position, 0), axis=0).reshape(-1)  # the set's row under each key
    equal = np.ones(n, np.bool_)
    word = np.dtype("<u8")
    for offset in _words(width):
        equal &= np.ndarray((n,), word, text, offset, (width,)) == np.ndarray((n,), word, theirs, offset, (width,))
    return hit & equal, (hit & ~equal) | unsettled


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

"""The accuracy suite's uniqueness check over a whole batch, in memory that follows a chunk, not the batch.

A duplicate can sit in any two chunks, so every key must meet every other. Holding all of a batch's keys
to count them grows with the batch (~300 MiB at 4M rows); instead each chunk's keys, with their source
rows, are appended to one of P partition files chosen by a hash of the key, P such that a partition holds
about one chunk's worth. Equal keys share a partition, so each partition is counted alone. A batch that
fits in one partition is kept in memory: it holds no more than one chunk then either.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kakunin import duck
from kakunin.lineage.digests import normalise_keys
from kakunin.lineage.formats import SOURCE_ROW
from kakunin.scratch import scratch_dir

_KEYS_SCHEMA = pa.schema([pa.field("key", pa.string()), pa.field(SOURCE_ROW, pa.int64())])
# Only the partition a key goes to, so any hash stable within this process will do; DuckDB's is vectorised.
_PARTITION_SQL = "SELECT (hash(key) % $partitions::UBIGINT)::UINTEGER AS partition FROM rows"


def partitions_for(rows: int, partition_rows: int) -> int:
    """How many partitions keep each at about `partition_rows` keys (a hash spreads them evenly)."""
    return max(1, -(-rows // max(1, partition_rows)))


class UniqueKeys:
    """One key column's normalised keys and their source rows, gathered chunk by chunk.

    `normalise_keys` is applied first (the subject digest's normalisation), then nulls and blanks are
    left out: they are not keys. With one partition the keys stay in memory; with more they go to
    files in `directory`, one per partition, each a run of Arrow IPC record-batch messages.
    """

    def __init__(self, partitions: int, directory: Path | None) -> None:
        self.partitions = partitions
        self.directory = directory
        self._held: list[pa.RecordBatch] = []

    def add(self, keys: pa.Array, rows: pa.Array) -> None:
        """Take one chunk's key column and the source rows it sits in."""
        normalised = normalise_keys(keys)
        is_key = pc.fill_null(pc.not_equal(normalised, ""), False)
        batch = pa.record_batch([pc.filter(normalised, is_key), pc.filter(rows, is_key)], schema=_KEYS_SCHEMA)
        if self.partitions == 1:
            self._held.append(batch)
            return
        if batch.num_rows == 0:
            return
        params: dict[str, object] = {"partitions": self.partitions}
        partition = duck.select(_PARTITION_SQL, pa.table([batch.column(0)], names=["key"]), params=params)
        numbers = partition.column("partition").to_numpy()
        ordered = batch.take(pa.array(np.argsort(numbers, kind="stable")))
        ends = np.cumsum(np.bincount(numbers, minlength=self.partitions))
        start = 0
        for index, end in enumerate(ends.tolist()):  # one append per partition, not per row
            if end > start:
                with self._file(index).open("ab") as out:
                    out.write(ordered.slice(start, end - start).serialize())
            start = end

    def duplicated_rows(self) -> pa.Array:
        """Source rows of every occurrence of a key that occurs more than once, sorted."""
        if self.partitions == 1:
            found = [_repeated(pa.Table.from_batches(self._held, _KEYS_SCHEMA))]
        else:
            found = [_repeated(self._read(i)) for i in range(self.partitions) if self._file(i).exists()]
        rows = pa.chunked_array(found, pa.int64()).combine_chunks()
        return rows.take(pc.sort_indices(rows))

    def _file(self, index: int) -> Path:
        if self.directory is None:
            raise ValueError("keys spread over several partitions need a directory for their files")
        return self.directory / f"{index}.arrows"

    def _read(self, index: int) -> pa.Table:
        path = self._file(index)
        size = path.stat().st_size
        batches = []
        with pa.OSFile(str(path)) as source:
            while source.tell() < size:
                batches.append(pa.ipc.read_record_batch(pa.ipc.read_message(source), _KEYS_SCHEMA))
        return pa.Table.from_batches(batches, _KEYS_SCHEMA)


def _repeated(keys: pa.Table) -> pa.Array:
    """The source rows whose key occurs more than once in `keys`."""
    keys = keys.combine_chunks()
    counts = pc.value_counts(keys.column("key"))
    repeated = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
    if len(repeated) == 0:
        return pa.array([], pa.int64())
    return pc.filter(keys.column(SOURCE_ROW), pc.is_in(keys.column("key"), value_set=repeated)).combine_chunks()


@contextmanager
def unique_keys(columns: list[str], *, partitions: int) -> Iterator[dict[str, UniqueKeys]]:
    """Per key column, a place to gather its keys; their partition files are removed on leaving, also on error."""
    if partitions == 1 or not columns:
        yield {column: UniqueKeys(1, None) for column in columns}
        return
    with scratch_dir("unique") as spill:
        directories = {column: Path(spill) / str(i) for i, column in enumerate(columns)}
        for directory in directories.values():
            directory.mkdir()
        yield {column: UniqueKeys(partitions, directory) for column, directory in directories.items()}

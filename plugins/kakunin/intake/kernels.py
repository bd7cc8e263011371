"""Arrow kernels of the intake steps: pure functions of tables, vectorised, no I/O.

Per-row work runs here in Arrow, NumPy or DuckDB (the HMACs of `lineage.digests`), never a
Python loop over rows, one chunk at a time, so a batch of millions of rows fits in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kakunin.contracts import DatasetContract
from kakunin.durations import IsoDuration
from kakunin.intake.conform import PARSE_FAILURES
from kakunin.intake.records import retention_until, uuid7_strings
from kakunin.intake.work import LINEAGE_COLUMNS
from kakunin.lineage.digests import Hmac, canonical_records, normalised_subject_keys
from kakunin.lineage.formats import RECORD_ID, RETENTION_UNTIL, SOURCE_ROW
from kakunin.subjects.identifiers import INDEX_SCHEMA, index_rows


def with_failures(rows: pa.Table, failures: pa.Table) -> pa.Table:
    """`rows` with a `failed` column: the rules each row failed (Acero cannot join list columns)."""
    positions = pc.index_in(rows.column(SOURCE_ROW), value_set=failures.column(SOURCE_ROW))
    return rows.append_column("failed", pc.take(failures.column("failed"), positions)).sort_by(SOURCE_ROW)


def failed_rows(conformed: Path, failures: pa.Table, chunk_rows: int) -> pa.Table:
    """The failing rows with their values, source row and the rules they failed."""
    if failures.num_rows == 0:
        return failures
    parts = []
    wanted = failures.column(SOURCE_ROW)
    for chunk in pq.ParquetFile(conformed).iter_batches(batch_size=chunk_rows):
        mask = pc.is_in(chunk.column(SOURCE_ROW), value_set=wanted)
        if pc.any(mask).as_py():
            parts.append(pa.Table.from_batches([chunk.filter(mask)]).drop_columns([PARSE_FAILURES]))
    return with_failures(pa.concat_tables(parts), failures)


@dataclass(frozen=True)
class Stamping:
    """What every record of one batch is stamped with: its retention rule, the id clock and the key."""

    contract: DatasetContract
    received_on: date
    period: IsoDuration
    clock_column: str | None  # None: the clock is `received_on`
    latest: date  # the contract's limit: received_on + max_retention
    unix_ms: int
    hmac: Hmac
    subject_key: bytes | None = None  # `subjects.identifiers.subject_key(...)`; None: no subject index rows


@dataclass(frozen=True)
class Stamped:
    """One chunk's passing rows, stamped: the lineage rows, the curated rows and each row's expiry month."""

    lineage: pa.Table
    data: pa.Table
    expiry_month: pa.Array
    fallbacks: int
    clamped: int
    index: pa.Table  # the subject index rows of these records (`subjects.identifiers.INDEX_SCHEMA`)


class RowsBySource:
    """A work file written a chunk per row group (chunks of ascending source rows; in any order inside a
    chunk), read in step with the same or other chunks of ascending source rows, a row group at a time."""

    def __init__(self, path: Path) -> None:
        self._file = pq.ParquetFile(path)
        self._next_group = 0
        self._held = self._file.schema_arrow.empty_table()
        self._source_column = self._file.schema_arrow.get_field_index(SOURCE_ROW)

    def _smallest(self, group: int) -> int:
        """The group's smallest source row, from the footer's statistics (read from the data without them)."""
        column = self._file.metadata.row_group(group).column(self._source_column)
        statistics = column.statistics
        if statistics is not None and statistics.has_min_max:
            return int(statistics.min)
        if column.num_values == 0:
            return -1  # an empty group: read (nothing) and pass
        values = self._file.read_row_group(group, columns=[SOURCE_ROW]).column(SOURCE_ROW)
        return int(pc.min(values).as_py())

    def upto(self, last_row: int) -> pa.Table:
        """Every row whose source row is at most `last_row` not handed out yet.

        A row group whose smallest source row is past `last_row` holds nothing for this chunk, and since
        groups come in chunk order neither does any later one: it is not even read (its footer says so)."""
        parts = [self._held]
        while self._next_group < self._file.num_row_groups and self._smallest(self._next_group) <= last_row:
            parts.append(self._file.read_row_group(self._next_group))
            self._next_group += 1
        held = pa.concat_tables(parts)
        if not held.num_rows or pc.max(held.column(SOURCE_ROW)).as_py() <= last_row:  # no copy when all are due
            self._held = held.schema.empty_table()
            return held
        within = pc.less_equal(held.column(SOURCE_ROW), last_row)  # a group that straddles is split
        self._held = held.filter(pc.invert(within))
        return held.filter(within)


def index_from_identifiers(identifiers: pa.Table, record_ids: pa.Array, passing: pa.Table) -> pa.Table:
    """The subject index rows of the passing rows, from screening's digests (source row, kind, digest)."""
    positions = pc.index_in(identifiers.column(SOURCE_ROW), value_set=passing.column(SOURCE_ROW))
    found = identifiers
    if positions.null_count:  # rows erased or failing: theirs go (a filter copies even when it keeps all)
        present = pc.is_valid(positions)
        found, positions = identifiers.filter(present), positions.filter(present)
    return pa.table([pc.take(record_ids, positions), found.column("kind"), found.column("digest")], schema=INDEX_SCHEMA)


def stamp(passing: pa.Table, stamping: Stamping, identifiers: pa.Table | None = None) -> Stamped:
    """Give each passing row a UUIDv7, its retention date and keyed digests.

    `identifiers`: screening's identifier digests of these rows (and maybe others), so the index rows
    need no second digest; without them, the identifiers are digested here."""
    clock = passing.column(stamping.clock_column).combine_chunks() if stamping.clock_column else None
    until, fallback, clamped = retention_until(
        clock,
        rows=passing.num_rows,
        received_on=stamping.received_on,
        period=stamping.period,
        latest=stamping.latest,
    )
    # counted by source row, so the batch's ids (and its manifest, written in source order) sort by row
    record_ids = uuid7_strings(
        passing.num_rows, unix_ms=stamping.unix_ms, sequence=passing.column(SOURCE_ROW).to_numpy()
    )
    contract = stamping.contract
    lineage = pa.table(
        [
            record_ids,
            passing.column(SOURCE_ROW),
            until,
            fallback,
            clamped,
            stamping.hmac.hexdigests(canonical_records(passing, contract)),
            stamping.hmac.hexdigests(normalised_subject_keys(passing, contract.subject_key)),
        ],
        schema=LINEAGE_COLUMNS,
    )
    data_columns = [c.name for c in contract.columns]
    data = pa.table(
        [record_ids, *(passing.column(c) for c in data_columns), until],
        names=[RECORD_ID, *data_columns, RETENTION_UNTIL],
    )
    return Stamped(
        lineage=lineage,
        data=data,
        expiry_month=pc.strftime(pc.cast(until, pa.timestamp("s")), format="%Y-%m"),
        fallbacks=pc.sum(fallback).as_py() or 0,
        clamped=pc.sum(clamped).as_py() or 0,
        index=_index(record_ids, passing, stamping, identifiers),
    )


def _index(record_ids: pa.Array, passing: pa.Table, stamping: Stamping, identifiers: pa.Table | None) -> pa.Table:
    if stamping.subject_key is None or not stamping.contract.identifiers:
        return INDEX_SCHEMA.empty_table()
    if identifiers is not None:
        return index_from_identifiers(identifiers, record_ids, passing)
    return index_rows(record_ids, passing, stamping.contract, stamping.subject_key)

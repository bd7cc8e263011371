"""Parse a batch's CSV in chunks and give each column the type its contract declares.

Everything here works on whole Arrow arrays (no per-row Python), so a chunk of a
million rows costs about as much as reading it. A value that does not parse as its
column's type fails its row (`parse.value`) and becomes null in the conformed chunk;
the rest of the batch goes on. Text is published in Unicode NFC: a name typed with
combining marks (カ + U+3099) is the same name as its precomposed form (ガ), and the
accuracy rules and readers downstream see one spelling.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from kakunin.codes import ReasonCode
from kakunin.contracts import Column, ColumnType, DatasetContract
from kakunin.intake.work import WORK_COMPRESSION, in_order
from kakunin.lineage.formats import SOURCE_ROW
from kakunin.uniqueness import repeated

PARSE_FAILURES = "_parse_failures"
DEFAULT_BLOCK_BYTES = 2 << 20  # measured: larger blocks make the reader's peak memory grow with the file

_DATE = r"^\d{4}-\d{2}-\d{2}$"
_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$"
_INTEGER = r"^[+-]?\d{1,18}$"
_DECIMAL = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_BOOLEAN = {"true": True, "false": False, "1": True, "0": False}


class ParseError(Exception):
    """The batch as a whole cannot be parsed (`parse.schema` or `parse.encoding`)."""

    def __init__(self, code: ReasonCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def arrow_type(column: Column) -> pa.DataType:
    """The Arrow type a contract column is published as."""
    return {
        ColumnType.STRING: pa.string(),
        ColumnType.INTEGER: pa.int64(),
        ColumnType.DECIMAL: pa.float64(),
        ColumnType.BOOLEAN: pa.bool_(),
        ColumnType.DATE: pa.date32(),
        ColumnType.TIMESTAMP: pa.timestamp("us", tz=column.timezone),
    }[column.type]


def conformed_schema(contract: DatasetContract) -> pa.Schema:
    """The schema of a conformed chunk: the contract's columns, the source row and parse failures."""
    fields = [pa.field(c.name, arrow_type(c)) for c in contract.columns]
    fields += [pa.field(SOURCE_ROW, pa.int64(), nullable=False), pa.field(PARSE_FAILURES, pa.list_(pa.string()))]
    return pa.schema(fields)


def read_header(path: Path, contract: DatasetContract, encoding: str) -> list[str]:
    """The file's column names; `ParseError(parse.schema)` unless they are the contract's columns."""
    options = pcsv.ReadOptions(encoding=encoding, block_size=1 << 20)
    parse = pcsv.ParseOptions(delimiter=contract.format.delimiter, newlines_in_values=True)
    try:
        reader = pcsv.open_csv(path, read_options=options, parse_options=parse)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise ParseError(ReasonCode.PARSE_SCHEMA, f"the file cannot be read as CSV: {_first_line(exc)}") from exc
    names: list[str] = list(reader.schema.names)
    expected = [c.name for c in contract.columns]
    missing = [n for n in expected if n not in names]
    extra = [n for n in names if n not in expected]
    twice = repeated(names)
    if missing or extra or twice:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(missing)}")
        if extra:
            parts.append(f"column(s) not in the contract {', '.join(extra)}")
        if twice:
            parts.append(f"repeated column(s) {', '.join(twice)}")
        raise ParseError(ReasonCode.PARSE_SCHEMA, "; ".join(parts) + f" (expected: {', '.join(expected)})")
    return names


def read_chunks(
    path: Path, contract: DatasetContract, encoding: str, *, block_bytes: int = DEFAULT_BLOCK_BYTES
) -> Iterator[pa.RecordBatch]:
    """Stream the file as string-typed record batches; memory follows `block_bytes`, not the file."""
    names = read_header(path, contract, encoding)
    options = pcsv.ReadOptions(encoding=encoding, block_size=block_bytes)
    parse = pcsv.ParseOptions(delimiter=contract.format.delimiter, newlines_in_values=True)
    convert = pcsv.ConvertOptions(
        column_types={name: pa.string() for name in names},
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        null_values=[""],
    )
    try:
        reader = pcsv.open_csv(path, read_options=options, parse_options=parse, convert_options=convert)
        yield from reader
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise ParseError(ReasonCode.PARSE_SCHEMA, f"the file is not well-formed CSV: {_first_line(exc)}") from exc


def read_row_groups(
    path: Path, contract: DatasetContract, encoding: str, *, rows: int, block_bytes: int = DEFAULT_BLOCK_BYTES
) -> Iterator[pa.Table]:
    """The file in tables of about `rows` rows: small reader blocks, gathered into chunks worth a kernel call."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in read_chunks(path, contract, encoding, block_bytes=block_bytes):
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield pa.Table.from_batches(pending)
            pending, count = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


def conform_file(
    source: Path,
    out: Path,
    contract: DatasetContract,
    encoding: str,
    *,
    chunk_rows: int,
    block_bytes: int,
    workers: int = 1,
    before_chunk: Callable[[], None] = lambda: None,
) -> tuple[int, int]:
    """Parse `source` chunk by chunk into the conformed Parquet file `out`; (rows, rows with a value
    that failed to parse). `ParseError` when the file cannot be read as the contract says. `workers`
    chunks are typed at once (`in_order`)."""
    rows = parse_failed = 0

    def numbered() -> Iterator[tuple[pa.Table, int]]:
        """Each chunk with the 1-based data row of its first row (counted here, in file order)."""
        first_row = 1
        for chunk in read_row_groups(source, contract, encoding, rows=chunk_rows, block_bytes=block_bytes):
            before_chunk()
            yield chunk, first_row
            first_row += chunk.num_rows

    def typed(item: tuple[pa.Table, int]) -> pa.RecordBatch:
        return conform_chunk(item[0], contract, first_row=item[1])

    with pq.ParquetWriter(out, conformed_schema(contract), compression=WORK_COMPRESSION) as writer:
        for conformed in in_order(typed, numbered(), workers=workers):  # chunks typed side by side, written in order
            failed = pc.list_value_length(conformed.column(PARSE_FAILURES))
            parse_failed += conformed.num_rows - pc.sum(pc.equal(failed, 0)).as_py()
            rows += conformed.num_rows
            writer.write_batch(
                conformed, row_group_size=max(1, conformed.num_rows)
            )  # a chunk per row group: see accuracy
    return rows, parse_failed


def conform_chunk(chunk: pa.RecordBatch | pa.Table, contract: DatasetContract, *, first_row: int) -> pa.RecordBatch:
    """Type every column as the contract says; rows whose values do not parse list the columns in `_parse_failures`.

    `first_row` is the 1-based data-row number of the chunk's first row in the source file.
    """
    arrays: list[pa.Array] = []
    failures: list[tuple[str, pa.Array]] = []
    for column in contract.columns:
        raw = chunk.column(column.name)
        if isinstance(raw, pa.ChunkedArray):
            raw = raw.combine_chunks()
        typed, failed = convert_column(raw, column)
        arrays.append(typed)
        failures.append((column.name, failed))
    rows = pa.array(range(first_row, first_row + chunk.num_rows), pa.int64())
    arrays += [rows, _failure_lists(failures, chunk.num_rows)]
    return pa.RecordBatch.from_arrays(arrays, schema=conformed_schema(contract))


def convert_column(raw: pa.Array, column: Column) -> tuple[pa.Array, pa.Array]:
    """(typed array, boolean array: the value was present but did not parse); text comes out NFC."""
    if column.type is ColumnType.STRING:
        return pc.utf8_normalize(raw, "NFC"), pa.nulls(len(raw), pa.bool_()).fill_null(False)
    trimmed = pc.utf8_trim_whitespace(raw)
    if column.type is ColumnType.DATE:
        typed = _parse_dates(trimmed)
    elif column.type is ColumnType.TIMESTAMP:
        typed = _parse_timestamps(trimmed, column.timezone)
    elif column.type is ColumnType.INTEGER:
        typed = _cast_matching(trimmed, _INTEGER, pa.int64())
    elif column.type is ColumnType.DECIMAL:
        typed = _cast_matching(trimmed, _DECIMAL, pa.float64())
    else:
        lowered = pc.utf8_lower(trimmed)
        typed = pc.replace_with_mask(
            pa.nulls(len(raw), pa.bool_()),
            pc.is_in(lowered, pa.array(list(_BOOLEAN))).fill_null(False),
            pc.is_in(lowered, pa.array([k for k, v in _BOOLEAN.items() if v])).fill_null(False),
        )
    failed = pc.and_(pc.is_valid(raw), pc.is_null(typed))
    return typed, failed


def _cast_matching(values: pa.Array, pattern: str, target: pa.DataType) -> pa.Array:
    ok = pc.match_substring_regex(values, pattern).fill_null(False)
    candidates = pc.if_else(ok, values, pa.scalar(None, pa.string()))
    return pc.cast(candidates, target)


def _parse_dates(values: pa.Array) -> pa.Array:
    """Strict ISO dates: `1980-02-30` and `1980-13-45` fail (Arrow's strptime would roll them over)."""
    shaped = pc.if_else(pc.match_substring_regex(values, _DATE).fill_null(False), values, pa.scalar(None, pa.string()))
    try:
        return pc.cast(shaped, pa.date32())  # fast path: Arrow refuses the whole array on one bad day
    except pa.ArrowInvalid:
        parsed = pc.strptime(shaped, format="%Y-%m-%d", unit="s", error_is_null=True)
        round_trip = pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), shaped).fill_null(False)
        return pc.cast(pc.if_else(round_trip, parsed, pa.scalar(None, parsed.type)), pa.date32())


def _parse_timestamps(values: pa.Array, timezone: str) -> pa.Array:
    """ISO 8601 instants with an offset (or Z); values without one fail rather than be guessed."""
    ok = pc.match_substring_regex(values, _TIMESTAMP).fill_null(False)
    shaped = pc.if_else(ok, values, pa.scalar(None, pa.string()))
    target = pa.timestamp("us", tz="UTC")
    try:
        instants = pc.cast(shaped, target)
    except pa.ArrowInvalid:
        instants = pa.array([_parse_one_timestamp(v) for v in shaped.to_pylist()], target)
    return instants.cast(pa.timestamp("us", tz=timezone))


def _parse_one_timestamp(value: str | None) -> datetime | None:
    """Slow path for a chunk with a well-shaped but impossible instant (hour 25): parse each."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _failure_lists(failures: list[tuple[str, pa.Array]], rows: int) -> pa.Array:
    """Per row, the names of the columns whose value did not parse (empty list when none)."""
    any_failed = None
    for _, failed in failures:
        any_failed = failed if any_failed is None else pc.or_(any_failed, failed)
    if any_failed is None or not pc.any(any_failed).as_py():
        return pa.ListArray.from_arrays(pa.array(np.zeros(rows + 1, np.int32)), pa.array([], pa.string()))
    flags = {name: failed.to_pylist() for name, failed in failures if pc.any(failed).as_py()}
    return pa.array([[name for name, column in flags.items() if column[i]] for i in range(rows)], pa.list_(pa.string()))


def _first_line(exc: BaseException) -> str:
    """Arrow's message without the row it quotes: errors are kept forever and must hold no personal data."""
    line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    line = re.sub(r"(got \d+)\b.*", r"\1", line)
    line = re.sub(r":\s*'.*", "", line)
    return line[:200]

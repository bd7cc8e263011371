"""Per-record identity and retention, computed over whole Arrow arrays.

These run once per published row, so they are vectorised: UUIDv7s are laid out with
numpy and retention dates are calendar arithmetic on datetime64 arrays. The keyed
digests are part of the lineage format and live in `kakunin.lineage.digests`.
"""

from __future__ import annotations

import os
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kakunin.durations import IsoDuration

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_UUID_HEX_POSITIONS = np.array([*range(8), *range(9, 13), *range(14, 18), *range(19, 23), *range(24, 36)])
_UUID_DASHES = np.array([8, 13, 18, 23])


SEQUENCE_BITS = 26  # rand_a (12 bits) and the top 14 bits of rand_b: 67 million rows before the counter wraps


def uuid7_strings(count: int, *, unix_ms: int, sequence: np.ndarray | None = None) -> pa.Array:
    """`count` UUIDv7s (RFC 9562) sharing the millisecond `unix_ms`, as canonical strings.

    With `sequence` (one non-negative integer per id, e.g. the source row), the bits after the
    version hold it as a counter (RFC 9562 §6.2, method 1) and the last 48 bits stay random: ids
    then sort in sequence order, so a batch's manifest is sorted by `record_id` and each row
    group's footer min/max is a narrow range a lookup by id can trust (`lineage.lookup`).
    Without it, all 74 bits after the version are random.
    """
    raw = np.frombuffer(os.urandom(16 * count), dtype=np.uint8).reshape(count, 16).copy()
    raw[:, :6] = np.frombuffer(unix_ms.to_bytes(6, "big"), dtype=np.uint8)
    if sequence is not None:
        counter = np.asarray(sequence, dtype=np.uint64) & np.uint64((1 << SEQUENCE_BITS) - 1)
        raw[:, 6] = (counter >> np.uint64(22)).astype(np.uint8)  # rand_a's top 4 bits (under the version)
        raw[:, 7] = (counter >> np.uint64(14)).astype(np.uint8)  # .astype keeps the low 8 bits
        raw[:, 8] = (counter >> np.uint64(8)).astype(np.uint8) & 0x3F  # under the variant
        raw[:, 9] = counter.astype(np.uint8)
    raw[:, 6] = 0x70 | (raw[:, 6] & 0x0F)
    raw[:, 8] = 0x80 | (raw[:, 8] & 0x3F)
    hex_digits = np.empty((count, 32), dtype=np.uint8)
    hex_digits[:, 0::2] = _HEX[raw >> 4]
    hex_digits[:, 1::2] = _HEX[raw & 0x0F]
    text = np.empty((count, 36), dtype=np.uint8)
    text[:, _UUID_HEX_POSITIONS] = hex_digits
    text[:, _UUID_DASHES] = ord("-")
    offsets = np.arange(0, 36 * (count + 1), 36, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), count, [None, pa.py_buffer(offsets), pa.py_buffer(text.tobytes())])


LAST_DAY = np.datetime64(date.max, "D")


def add_period(days: np.ndarray, period: IsoDuration) -> np.ndarray:
    """`days` (datetime64[D]) moved by `period` on the calendar; month ends clamp like `IsoDuration.add_to`.

    Like `IsoDuration.add_to`, a result past 9999-12-31 is 9999-12-31: numpy would go on
    counting, but a Python `date` (and every reader of the lineage) cannot.
    """
    months = days.astype("datetime64[M]")
    day_of_month = (days - months.astype("datetime64[D]")).astype(np.int64)
    target = months + np.timedelta64(12 * period.years + period.months, "M")
    month_length = ((target + np.timedelta64(1, "M")).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(
        np.int64
    )
    day = np.minimum(day_of_month, month_length - 1)
    moved: np.ndarray = target.astype("datetime64[D]") + day + np.timedelta64(7 * period.weeks + period.days, "D")
    capped: np.ndarray = np.minimum(moved, LAST_DAY)
    return capped


def retention_until(
    clock: pa.Array | None, *, rows: int, received_on: date, period: IsoDuration, latest: date = date.max
) -> tuple[pa.Array, pa.Array, pa.Array]:
    """(retention date per row, True where `received_on` stood in for an empty clock, True where clamped).

    `clock` is the date column named by `retention.clock: column:X`, or None for `received_on`.
    `latest` is the last day the dataset's contract allows any record to be kept
    (`received_on + max_retention`): a row whose clock would keep it longer (a provider's
    9999-12-31 for "open-ended") is kept until `latest` instead, and flagged as clamped.
    """
    if clock is None:
        until = min(period.add_to(received_on), latest)
        flags = pa.nulls(rows, pa.bool_()).fill_null(False)
        clamped = pa.nulls(rows, pa.bool_()).fill_null(period.add_to(received_on) > latest)
        return pa.nulls(rows, pa.date32()).fill_null(pa.scalar(until, pa.date32())), flags, clamped
    fallback = pc.is_null(clock)
    filled = pc.fill_null(clock, pa.scalar(received_on, pa.date32()))
    days = filled.to_numpy(zero_copy_only=False).astype("datetime64[D]")
    moved = add_period(days, period)
    cap = np.datetime64(latest, "D")
    return pa.array(np.minimum(moved, cap), pa.date32()), fallback, pa.array(moved > cap, pa.bool_())

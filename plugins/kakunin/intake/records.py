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


def uuid7_strings(count: int, *, unix_ms: int) -> pa.Array:
    """`count` random UUIDv7s (RFC 9562) sharing the millisecond `unix_ms`, as canonical strings."""
    raw = np.frombuffer(os.urandom(16 * count), dtype=np.uint8).reshape(count, 16).copy()
    raw[:, :6] = np.frombuffer(unix_ms.to_bytes(6, "big"), dtype=np.uint8)
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


def add_period(days: np.ndarray, period: IsoDuration) -> np.ndarray:
    """`days` (datetime64[D]) moved by `period` on the calendar; month ends clamp like `IsoDuration.add_to`."""
    months = days.astype("datetime64[M]")
    day_of_month = (days - months.astype("datetime64[D]")).astype(np.int64)
    target = months + np.timedelta64(12 * period.years + period.months, "M")
    month_length = ((target + np.timedelta64(1, "M")).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(
        np.int64
    )
    day = np.minimum(day_of_month, month_length - 1)
    moved: np.ndarray = target.astype("datetime64[D]") + day + np.timedelta64(7 * period.weeks + period.days, "D")
    return moved


def retention_until(
    clock: pa.Array | None, *, rows: int, received_on: date, period: IsoDuration
) -> tuple[pa.Array, pa.Array]:
    """(retention date per row, True where the clock column was empty and `received_on` stood in).

    `clock` is the date column named by `retention.clock: column:X`, or None for `received_on`.
    """
    if clock is None:
        until = pa.nulls(rows, pa.date32()).fill_null(pa.scalar(period.add_to(received_on), pa.date32()))
        return until, pa.nulls(rows, pa.bool_()).fill_null(False)
    fallback = pc.is_null(clock)
    filled = pc.fill_null(clock, pa.scalar(received_on, pa.date32()))
    days = filled.to_numpy(zero_copy_only=False).astype("datetime64[D]")
    return pa.array(add_period(days, period), pa.date32()), fallback

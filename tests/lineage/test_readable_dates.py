"""Dates past the calendar's last day (Arrow holds them, Python's `date` cannot) read as 9999-12-31."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from kakunin.lineage.formats import LAST_DAY, readable_dates

_PAST_THE_END = (LAST_DAY - date(1970, 1, 1)).days + 400  # a day number `date` cannot hold


def _days(values: list[int | None]) -> pa.Array:
    """date32 values from day numbers since 1970-01-01 (a date past 9999-12-31 cannot be written as a `date`)."""
    return pa.array(values, pa.int32()).view(pa.date32())


def _arrow_capped(table: pa.Table, column: str) -> pa.Table:
    """Arrow's own answer: what `readable_dates` must give."""
    index = table.schema.get_field_index(column)
    cap = pa.array([LAST_DAY], pa.date32())[0]
    return table.set_column(index, table.schema.field(index), pc.min_element_wise(table.column(column), cap))


@pytest.mark.parametrize(
    "column",
    [
        pytest.param(pa.chunked_array([_days([20000, _PAST_THE_END]), _days([1])]), id="past-the-end-in-one-chunk"),
        pytest.param(pa.chunked_array([_days([_PAST_THE_END, 20000, _PAST_THE_END]).slice(1, 2)]), id="sliced"),
        pytest.param(pa.chunked_array([_days([20000, 20001])]), id="none-past-the-end"),
        pytest.param(pa.chunked_array([_days([20000, None, _PAST_THE_END])]), id="with-nulls"),
        pytest.param(pa.chunked_array([], pa.date32()), id="no-chunks"),
        pytest.param(
            pa.chunked_array([pa.Array.from_buffers(pa.date32(), 0, [None, None]), _days([_PAST_THE_END])]),
            id="an-empty-chunk-without-data",
        ),
    ],
)
def test_dates_read_as_arrow_caps_them_at_the_last_day(column: pa.ChunkedArray) -> None:
    table = pa.table({"record_id": pa.array(["r"] * len(column)), "retention_until": column})
    capped = readable_dates(table, "retention_until")
    assert capped.to_pylist() == _arrow_capped(table, "retention_until").to_pylist()
    assert capped.schema == table.schema
    if len(column):
        assert max(d for d in capped.column("retention_until").to_pylist() if d is not None) <= LAST_DAY


def test_a_table_without_the_column_is_returned_as_it_is() -> None:
    table = pa.table({"record_id": ["r"]})
    assert readable_dates(table, "retention_until") is table

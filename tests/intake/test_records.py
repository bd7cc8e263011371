"""Record ids, retention dates and keyed digests, computed in bulk, agree with their definitions."""

from __future__ import annotations

import hmac
import uuid
from datetime import date

import numpy as np
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from kakunin.durations import IsoDuration
from kakunin.intake.records import add_period, retention_until, uuid7_strings
from kakunin.lineage.digests import Hmac, normalise_subject_key, normalised_subject_keys


def test_uuid7s_are_valid_distinct_and_carry_the_time() -> None:
    ids = uuid7_strings(10_000, unix_ms=1_764_140_000_000).to_pylist()
    parsed = [uuid.UUID(i) for i in ids]
    assert len(set(ids)) == len(ids)
    assert {p.version for p in parsed} == {7}
    assert {p.variant for p in parsed} == {uuid.RFC_4122}
    assert {int.from_bytes(p.bytes[:6], "big") for p in parsed} == {1_764_140_000_000}
    assert all(str(p) == i for p, i in zip(parsed, ids, strict=True))


def test_uuid7s_counted_by_source_row_sort_in_row_order_and_stay_random_in_their_tail() -> None:
    rows = np.arange(2, 200_002, dtype=np.int64)
    ids = uuid7_strings(len(rows), unix_ms=1_764_140_000_000, sequence=rows).to_pylist()
    parsed = [uuid.UUID(i) for i in ids]
    assert ids == sorted(ids), "ids sort in source-row order"
    assert len(set(ids)) == len(ids)
    assert {(p.version, p.variant) for p in parsed} == {(7, uuid.RFC_4122)}
    assert {int.from_bytes(p.bytes[:6], "big") for p in parsed} == {1_764_140_000_000}
    assert len({p.bytes[10:] for p in parsed}) == len(parsed), "the last 48 bits are random, not the counter"
    again = uuid7_strings(len(rows), unix_ms=1_764_140_000_000, sequence=rows).to_pylist()
    assert not set(ids) & set(again), "the same rows stamped twice get new ids"


@given(
    st.lists(st.dates(date(1900, 1, 1), date(2200, 1, 1)), min_size=1, max_size=30),
    st.integers(0, 30),
    st.integers(0, 30),
    st.integers(0, 10),
    st.integers(0, 400),
)
def test_bulk_retention_matches_the_calendar_definition(
    days: list[date], years: int, months: int, weeks: int, extra: int
) -> None:
    period = IsoDuration(years=years, months=months, weeks=weeks, days=extra)
    bulk = add_period(np.array(days, dtype="datetime64[D]"), period)
    assert [d.astype(date) for d in bulk] == [period.add_to(d) for d in days]


@given(
    st.lists(st.one_of(st.none(), st.dates(date(1950, 1, 1), date(2100, 1, 1))), min_size=1, max_size=40),
    st.dates(date(2000, 1, 1), date(2100, 1, 1)),
    st.sampled_from(["P1M", "P2Y6M", "P5Y", "P30D", "P1Y1M1W1D"]),
)
def test_a_column_clock_with_empty_values(clock: list[date | None], received_on: date, text: str) -> None:
    from kakunin.durations import parse_duration

    period = parse_duration(text)
    until, fallback, _ = retention_until(
        pa.array(clock, pa.date32()), rows=len(clock), received_on=received_on, period=period
    )
    assert until.to_pylist() == [period.add_to(day or received_on) for day in clock]
    assert fallback.to_pylist() == [day is None for day in clock]


def test_an_empty_clock_falls_back_to_received_on_and_says_so() -> None:
    clock = pa.array([date(2026, 1, 31), None], pa.date32())
    until, fallback, _ = retention_until(clock, rows=2, received_on=date(2026, 11, 20), period=IsoDuration(months=1))
    assert until.to_pylist() == [date(2026, 2, 28), date(2026, 12, 20)]
    assert fallback.to_pylist() == [False, True]


def test_far_future_clock_dates_are_kept_no_longer_than_the_contract_allows() -> None:
    clock = pa.array([date(2027, 1, 1), date(2099, 12, 31), date(9999, 12, 31), None], pa.date32())
    until, fallback, clamped = retention_until(
        clock, rows=4, received_on=date(2026, 11, 20), period=IsoDuration(years=1), latest=date(2031, 11, 20)
    )
    assert until.to_pylist() == [date(2028, 1, 1), date(2031, 11, 20), date(2031, 11, 20), date(2027, 11, 20)]
    assert clamped.to_pylist() == [False, True, True, False]
    assert fallback.to_pylist() == [False, False, False, True]


def test_bulk_retention_never_passes_the_last_day_of_the_calendar() -> None:
    days = np.array([date(9999, 12, 31), date(9999, 6, 30)], dtype="datetime64[D]")
    moved = add_period(days, IsoDuration(years=1, days=3))
    assert [d.astype(date) for d in moved] == [date.max, date.max]


def test_hmac_matches_the_standard_library() -> None:
    for key in (b"k" * 32, b"x" * 100, b"", b"\x00\xff" * 32):
        messages = pa.array(["山田", "", "C0000001", "a\x00b\x1fc\\", "x" * 5000])
        expected = [hmac.new(key, m.encode(), "sha256").hexdigest() for m in messages.to_pylist()]
        assert Hmac(key).hexdigests(messages).to_pylist() == expected
        assert [Hmac(key).hexdigest(m.encode()) for m in messages.to_pylist()] == expected


def test_bulk_hmac_keeps_every_digest_beside_its_message() -> None:
    """Hundreds of thousands of messages (many DuckDB vectors and row groups, hashed on every core) come
    back in their order: a digest one row off would pin the wrong record."""
    key = b"k" * 32
    count = 300_000
    messages = pa.array([f"C{i:07d}" for i in range(count)])
    digests = Hmac(key).hexdigests(pa.chunked_array([messages[:1000], messages[1000:]]))
    assert len(digests) == count
    for i in (0, 999, 1000, 2047, 2048, 122_879, 122_880, 200_001, count - 1):
        assert digests[i].as_py() == hmac.new(key, f"C{i:07d}".encode(), "sha256").hexdigest()
    assert Hmac(key).hexdigests(pa.array(["a", None])).to_pylist()[1] is None


def test_a_subject_key_typed_in_full_width_finds_the_same_digest() -> None:
    table = pa.table({"customer_no": ["C0000001", " c0000001 "]})
    stored = normalised_subject_keys(table, ["customer_no"]).to_pylist()
    assert stored == ["c0000001", "c0000001"]
    assert normalise_subject_key(["Ｃ００００００１"]) == "c0000001"


def test_canonical_records_are_unambiguous(registry) -> None:  # type: ignore[no-untyped-def]
    from kakunin.lineage.digests import canonical_records

    contract = registry.contract("jp_customer_leads")
    base = {c.name: None for c in contract.columns}
    tricky = ["a\x1fb", "a", "\x00", None, "\\x00", "\\", "a\\x1fb"]
    rows = [{**base, "customer_no": "C0000001", "name_kanji": value} for value in tricky]
    rows.append({**base, "customer_no": "C0000001\x1f", "name_kanji": None})
    table = pa.Table.from_pylist(rows, schema=pa.schema([(c, pa.string()) for c in base]))
    table = table.set_column(7, "birth_date", pa.nulls(len(rows), pa.date32()))
    table = table.set_column(8, "consented_at", pa.nulls(len(rows), pa.timestamp("us", tz="+09:00")))
    table = table.set_column(9, "last_purchase_on", pa.nulls(len(rows), pa.date32()))
    texts = canonical_records(table, contract).to_pylist()
    assert len(set(texts)) == len(texts)
    assert texts[1].split("\x1f")[:2] == ["C0000001", "a"]


def test_bulk_hmac_gives_the_rfc_4231_test_vectors() -> None:
    """The published digest scheme is HMAC-SHA256 itself (RFC 2104), whatever computes it."""
    vectors = [
        (b"\x0b" * 20, "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (b"Jefe", "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        (  # a key longer than SHA-256's block is hashed first
            b"\xaa" * 131,
            "Test Using Larger Than Block-Size Key - Hash Key First",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        ),
    ]
    for key, message, expected in vectors:
        assert Hmac(key).hexdigests(pa.array([message])).to_pylist() == [expected]

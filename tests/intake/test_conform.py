"""Parsing and conforming: every value typed as the contract says, or its row failed, never guessed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pytest

from kakunin.codes import ReasonCode
from kakunin.contracts import Column, ColumnType, Registry
from kakunin.intake.conform import PARSE_FAILURES, ParseError, conform_chunk, convert_column, read_chunks
from kakunin.lineage.formats import SOURCE_ROW

JST = timezone(timedelta(hours=9))
DATE = Column(name="d", type=ColumnType.DATE)
STAMP = Column(name="t", type=ColumnType.TIMESTAMP, timezone="+09:00")


@pytest.mark.parametrize(
    ("column", "raw", "expected", "failed"),
    [
        pytest.param(DATE, "1980-01-31", date(1980, 1, 31), False, id="date"),
        pytest.param(DATE, " 1980-01-31 ", date(1980, 1, 31), False, id="date-trimmed"),
        pytest.param(DATE, "1980-13-45", None, True, id="date-month-13"),
        pytest.param(DATE, "1980-02-30", None, True, id="date-february-30"),
        pytest.param(DATE, "1980-1-5", None, True, id="date-not-padded"),
        pytest.param(DATE, "31/01/1980", None, True, id="date-other-order"),
        pytest.param(DATE, None, None, False, id="date-empty-is-null"),
        pytest.param(
            STAMP, "2024-05-01T10:00:00+09:00", datetime(2024, 5, 1, 10, tzinfo=JST), False, id="stamp-offset-kept"
        ),
        pytest.param(STAMP, "2024-05-01T01:00:00Z", datetime(2024, 5, 1, 10, tzinfo=JST), False, id="stamp-zulu"),
        pytest.param(
            STAMP,
            "2024-05-01 10:00:00.250+0900",
            datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=JST),
            False,
            id="stamp-fraction",
        ),
        pytest.param(STAMP, "2024-05-01T10:00:00", None, True, id="stamp-without-offset-is-not-guessed"),
        pytest.param(STAMP, "2024-05-01T25:00:00+09:00", None, True, id="stamp-hour-25"),
        pytest.param(Column(name="n", type=ColumnType.INTEGER), "0042", 42, False, id="integer"),
        pytest.param(Column(name="n", type=ColumnType.INTEGER), "4.2", None, True, id="integer-not-decimal"),
        pytest.param(Column(name="b", type=ColumnType.BOOLEAN), "TRUE", True, False, id="boolean"),
        pytest.param(Column(name="s", type=ColumnType.STRING), "012-3456", "012-3456", False, id="string-leading-zero"),
    ],
)
def test_convert_column(column: Column, raw: str | None, expected: object, failed: bool) -> None:
    typed, failures = convert_column(pa.array([raw], pa.string()), column)
    value = typed[0].as_py()
    assert value == expected
    if isinstance(expected, datetime):
        assert value.utcoffset() == expected.utcoffset()
    assert failures[0].as_py() is failed


def test_a_whole_chunk_with_one_impossible_instant_keeps_the_others() -> None:
    raw = pa.array(["2024-05-01T10:00:00+09:00", "2024-05-01T25:00:00+09:00", None], pa.string())
    typed, failed = convert_column(raw, STAMP)
    assert typed.to_pylist() == [datetime(2024, 5, 1, 10, tzinfo=JST), None, None]
    assert failed.to_pylist() == [False, True, False]


def _csv(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "data.csv"
    path.write_bytes(text.encode(encoding))
    return path


HEADER = "customer_no,name_kanji,name_kana,email,phone,postal_code,address,birth_date,consented_at,last_purchase_on\n"


def test_quoted_newlines_empty_cells_and_row_numbers(tmp_path: Path, registry: Registry) -> None:
    contract = registry.contract("jp_customer_leads")
    assert contract is not None
    text = (
        HEADER
        + 'C0000001,山田 太郎,ヤマダ　タロウ,a@example.jp,03-1234-5678,012-3456,"東京都千代田区\n丸の内1-1",'
        + "1980-01-31,2024-05-01T10:00:00+09:00,\n"
        + 'C0000002,"",,b@example.jp,,001-0001,大阪府,1980-13-45,2024-05-01T10:00:00+09:00,2025-01-01\n'
    )
    chunks = list(read_chunks(_csv(tmp_path, text), contract, "utf-8"))
    batch = conform_chunk(chunks[0], contract, first_row=1)
    rows = batch.to_pylist()
    assert [r[SOURCE_ROW] for r in rows] == [1, 2]
    assert rows[0]["address"] == "東京都千代田区\n丸の内1-1"
    assert rows[0]["postal_code"] == "012-3456"
    assert rows[0]["last_purchase_on"] is None
    assert rows[1]["name_kanji"] is None
    assert rows[1]["name_kana"] is None
    assert rows[1][PARSE_FAILURES] == ["birth_date"]
    assert rows[0][PARSE_FAILURES] == []


@pytest.mark.parametrize(
    ("header", "message"),
    [
        pytest.param(HEADER.replace(",phone", ""), "missing column(s) phone", id="missing"),
        pytest.param(HEADER.strip() + ",fax\n", "not in the contract fax", id="extra"),
        pytest.param(HEADER.replace("email", "phone"), "missing column(s) email", id="renamed"),
    ],
)
def test_a_missing_or_extra_column_is_parse_schema(
    tmp_path: Path, registry: Registry, header: str, message: str
) -> None:
    contract = registry.contract("jp_customer_leads")
    assert contract is not None
    with pytest.raises(ParseError) as caught:
        list(read_chunks(_csv(tmp_path, header), contract, "utf-8"))
    assert caught.value.code is ReasonCode.PARSE_SCHEMA
    assert message in caught.value.message


def test_cp932_text_beyond_jis_x_0208_comes_through(tmp_path: Path, registry: Registry) -> None:
    contract = registry.contract("jp_customer_leads")
    assert contract is not None
    row = (
        "C0000001,髙橋 一郎,タカハシ　イチロウ,a@example.jp,03-1234-5678,100-0005,東京都千代田区①㈱ビル,"
        "1980-01-31,2024-05-01T10:00:00+09:00,\n"
    )
    path = _csv(tmp_path, HEADER + row, "cp932")
    batch = conform_chunk(next(iter(read_chunks(path, contract, "cp932"))), contract, first_row=1)
    assert batch.column("name_kanji")[0].as_py() == "髙橋 一郎"
    assert batch.column("address")[0].as_py() == "東京都千代田区①㈱ビル"


def test_timestamps_are_published_in_the_contract_offset(registry: Registry) -> None:
    contract = registry.contract("jp_customer_leads")
    assert contract is not None
    assert contract.columns_by_name["consented_at"].timezone == "+09:00"
    instant = datetime(2024, 5, 1, 1, tzinfo=UTC)
    typed, _ = convert_column(pa.array(["2024-05-01T01:00:00+00:00"]), contract.columns_by_name["consented_at"])
    assert typed[0].as_py() == instant
    assert str(typed.type) == "timestamp[us, tz=+09:00]"

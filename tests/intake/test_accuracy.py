"""The chunked GX runner: results that run across chunks, the rejection boundary, and rules it refuses."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from kakunin.errors import ConfigError
from kakunin.intake.accuracy import evaluate, exceeds_ratio
from tests.conftest import RECEIVED_ON
from tests.intake.gx_cases import BAD_POSTAL, GOOD_POSTAL, POSTAL_AND_UNIQUE, write_conformed, write_suite

UNIQUE = "expect_column_values_to_be_unique:customer_no"
POSTAL = "expect_column_values_to_be_jp_postal_code:postal_code"


def _run(tmp_path: Path, columns: dict[str, list[str | None]], *, chunk_rows: int, ratio: float = 1.0, **kw: object):  # type: ignore[no-untyped-def]
    suite = write_suite(tmp_path, kw.pop("expectations", POSTAL_AND_UNIQUE))  # type: ignore[arg-type]
    conformed = write_conformed(
        tmp_path / "conformed.parquet",
        columns,
        first_row=int(kw.pop("first_row", 1)),  # type: ignore[call-overload]
        chunk_rows=chunk_rows,
    )
    failures, summary, _ = evaluate(
        conformed,
        suite_path=suite,
        received_on=RECEIVED_ON,
        max_failed_row_ratio=ratio,
        run_name="test",
        chunk_rows=chunk_rows,
        workers=int(kw.pop("workers", 1)),  # type: ignore[call-overload]
        unique_partition_rows=kw.pop("unique_partition_rows", None),  # type: ignore[arg-type]
    )
    return {row["_source_row"]: row["failed"] for row in failures.to_pylist()}, summary


# Ten rows in chunks of three: [101-103] [104-106] [107-109] [110]. C0000002 is in chunk 1 and chunk 3;
# the bad postal codes sit in the second and the last chunk.
TEN_ROWS: dict[str, list[str | None]] = {
    "customer_no": [f"C{n:07d}" for n in (1, 2, 3, 4, 5, 6, 7, 2, 9, 10)],
    "postal_code": [GOOD_POSTAL] * 4 + [BAD_POSTAL] + [GOOD_POSTAL] * 4 + [BAD_POSTAL],
}


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("chunk_rows", [3, 4, 1000])
def test_uniqueness_and_row_numbers_are_right_across_chunks(tmp_path: Path, chunk_rows: int, workers: int) -> None:
    """The same answer whether one process validates every chunk or several (forked) validate them at once."""
    failed, summary = _run(tmp_path, TEN_ROWS, chunk_rows=chunk_rows, first_row=101, workers=workers)
    assert failed == {102: [UNIQUE], 105: [POSTAL], 108: [UNIQUE], 110: [POSTAL]}
    assert [(r.rule, r.unexpected, r.success) for r in summary.rules] == [(UNIQUE, 2, False), (POSTAL, 2, False)]
    assert (summary.rows, summary.failed_rows) == (10, 4)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("partition_rows", [1, 2, 1000])
def test_uniqueness_spilled_to_many_partitions_normalises_keys_and_skips_blanks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, partition_rows: int, workers: int
) -> None:
    """Keys spread over up to twelve partition files, chunks of three: the same duplicates, and no file left."""
    spill = tmp_path / "tmp"
    spill.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill))
    columns: dict[str, list[str | None]] = {
        "customer_no": ["C0000001", None, "", "C0000004", "c0000001\n", "  ", None, "C0000008", "", "Ｃ0000008 "],
        "postal_code": [GOOD_POSTAL] * 10,
    }
    columns["customer_no"] += ["C0000011", "C0000004"]
    columns["postal_code"] += [GOOD_POSTAL, GOOD_POSTAL]
    failed, summary = _run(tmp_path, columns, chunk_rows=3, workers=workers, unique_partition_rows=partition_rows)
    assert failed == {1: [UNIQUE], 4: [UNIQUE], 5: [UNIQUE], 8: [UNIQUE], 10: [UNIQUE], 12: [UNIQUE]}
    assert (summary.rules[0].unexpected, summary.rules[0].missing) == (6, 2)
    assert list(spill.iterdir()) == []


@pytest.mark.parametrize(
    ("failed", "rows", "ratio", "rejected"),
    [
        pytest.param(1, 100, 0.01, False, id="exactly-the-ratio"),
        pytest.param(2, 100, 0.01, True, id="one-row-more"),
        pytest.param(6, 600, 0.01, False, id="exactly-at-600-rows"),
        pytest.param(7, 600, 0.01, True, id="one-more-at-600-rows"),
        pytest.param(29, 100, 0.29, False, id="0.29-is-not-binary-float-0.29"),
        pytest.param(0, 10, 0.0, False, id="none-failed-none-allowed"),
        pytest.param(1, 10, 0.0, True, id="one-failed-none-allowed"),
    ],
)
def test_the_failed_row_ratio_is_a_limit_the_batch_may_reach(
    failed: int, rows: int, ratio: float, rejected: bool
) -> None:
    assert exceeds_ratio(failed, rows, ratio) is rejected


@pytest.mark.parametrize(("bad_rows", "rejected"), [(2, False), (3, True)])
def test_a_batch_at_the_ratio_is_accepted_and_one_row_more_is_rejected(
    tmp_path: Path, bad_rows: int, rejected: bool
) -> None:
    columns: dict[str, list[str | None]] = {
        "customer_no": [f"C{n:07d}" for n in range(10)],
        "postal_code": [BAD_POSTAL] * bad_rows + [GOOD_POSTAL] * (10 - bad_rows),
    }
    _, summary = _run(tmp_path, columns, chunk_rows=3, ratio=0.2)
    assert (summary.failed_rows, summary.rejected) == (bad_rows, rejected)


def test_mostly_is_decided_over_the_whole_batch_and_failing_rows_still_fail(tmp_path: Path) -> None:
    mostly = [{"type": "expect_column_values_to_be_jp_postal_code", "kwargs": {"column": "postal_code", "mostly": 0.8}}]
    failed, summary = _run(tmp_path, TEN_ROWS, chunk_rows=3, expectations=mostly)
    assert failed == {5: [POSTAL], 10: [POSTAL]}
    assert (summary.rules[0].unexpected, summary.rules[0].success) == (2, True)  # 8 of 10 passed: at least 80%


@pytest.mark.parametrize(
    "expectation",
    [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1, "max_value": 5}},
        {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "customer_no", "min_value": 0}},
        {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["customer_no", "postal_code"]}},
    ],
    ids=lambda e: e["type"],
)
def test_an_expectation_that_cannot_be_merged_across_chunks_is_refused(tmp_path: Path, expectation: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as refused:
        _run(tmp_path, TEN_ROWS, chunk_rows=3, expectations=[*POSTAL_AND_UNIQUE, expectation])
    message = str(refused.value)
    assert expectation["type"] in message
    assert "accuracy_suite.json" in message
    assert "cannot be checked chunk by chunk" in message


def test_an_unknown_expectation_type_is_a_config_error_naming_the_suite(tmp_path: Path) -> None:
    unknown = [{"type": "expect_column_values_to_be_my_postcode", "kwargs": {"column": "postal_code"}}]
    with pytest.raises(ConfigError, match=r"accuracy_suite\.json: GX refused the suite"):
        _run(tmp_path, TEN_ROWS, chunk_rows=3, expectations=unknown)


def test_with_two_workers_a_second_process_validates_every_other_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kakunin.intake import accuracy

    seen = tmp_path / "validated-by"
    validate = accuracy.SuiteRunner.validate

    def recording(self, frame):  # type: ignore[no-untyped-def]
        with seen.open("a") as out:  # the forked worker inherits this patch and writes its own pid
            out.write(f"{os.getpid()}\n")
        return validate(self, frame)

    monkeypatch.setattr(accuracy.SuiteRunner, "validate", recording)
    failed, _ = _run(tmp_path, TEN_ROWS, chunk_rows=3, first_row=101, workers=2)
    assert failed == {102: [UNIQUE], 105: [POSTAL], 108: [UNIQUE], 110: [POSTAL]}
    pids = seen.read_text().split()
    assert len(pids) == 4  # four chunks, each validated once
    assert pids.count(str(os.getpid())) == 2
    assert len(set(pids)) == 2

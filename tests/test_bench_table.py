"""`make bench`'s table decides "within target" right at, below and above each limit, and says MISSED."""

from __future__ import annotations

from typing import Any

import pytest

from kakunin_dev.bench import table_rows, table_text


def _intake(floor: float, submit: float, intake: float, rss: float) -> dict[str, Any]:
    return {
        "floor": {"seconds": floor, "peak_rss_mib": 100.0},
        "submit": {"seconds": submit, "peak_rss_mib": rss / 2},
        "intake": {"seconds": intake, "peak_rss_mib": rss},
    }


def _results(*, intake_ratio: float, verify_ratio: float, trace_s: float) -> dict[str, Any]:
    return {
        "intake": _intake(10.0, 10.0, intake_ratio * 10.0 - 10.0, 1024.0),
        "intake_quarter": _intake(2.5, 1.0, 5.0, 1024.0),
        "retention": {"ratio_10N_to_N": 1.2},
        "trace": {"trace_seconds_large": trace_s, "ratio_large_to_small": 1.5},
        "verify": {"ratio_keyless": verify_ratio, "ratio_keyed": verify_ratio},
    }


@pytest.mark.parametrize(("figure", "within"), [(3.5, True), (4.0, True), (4.5, False)])
def test_intake_ratio_is_submit_plus_intake_over_the_floor(figure: float, within: bool) -> None:
    row = table_rows(_results(intake_ratio=figure, verify_ratio=0.5, trace_s=1.0))[0]
    assert row.figure == pytest.approx(figure)
    assert row.within is within


@pytest.mark.parametrize(("figure", "within"), [(0.49, False), (0.5, True), (0.9, True)])
def test_verify_must_reach_half_of_sha256sum(figure: float, within: bool) -> None:
    rows = {r.measure: r for r in table_rows(_results(intake_ratio=4.0, verify_ratio=figure, trace_s=1.0))}
    assert rows["lineage verify (keyless) / sha256sum"].within is within


def test_limits_met_exactly_are_within_and_the_text_says_so() -> None:
    rows = table_rows(_results(intake_ratio=4.0, verify_ratio=0.5, trace_s=1.0))
    by_measure = {r.measure: r for r in rows}
    assert by_measure["peak RSS of any process, N"].figure == pytest.approx(1.0)  # 1024 MiB is 1 GiB: within
    assert by_measure["peak RSS at N / at N/4"].figure == pytest.approx(1.0)
    assert all(r.within for r in rows)
    text = table_text(rows, cores=2, n=4_000_000)
    assert "N = 4,000,000 rows, 2 cores" in text
    assert "MISSED" not in text


def test_a_missed_target_is_shown_as_missed_and_parts_not_run_as_dashes() -> None:
    results = _results(intake_ratio=4.0, verify_ratio=0.5, trace_s=1.01)
    del results["retention"]
    rows = table_rows(results)
    text = table_text(rows, cores=2, n=1000)
    trace_line = next(line for line in text.splitlines() if line.startswith("lineage trace, 10M manifest rows"))
    assert trace_line.split()[-1] == "MISSED"
    assert "MISSED: 1 target(s): lineage trace, 10M manifest rows" in text
    purge = next(r for r in rows if r.measure.startswith("retention purge"))
    assert (purge.figure, purge.within) == (None, None)

"""A short sample of the failure campaign (`make chaos` runs it whole): real processes killed mid-write."""

from __future__ import annotations

from pathlib import Path

from tests.chaos.campaign import run_campaign, table


def test_a_sample_of_kill_points_and_concurrent_runs_all_recover(tmp_path: Path) -> None:
    rows = run_campaign(sample=4, rounds=1, jobs=2, root=tmp_path)
    problems = [f"{row.scenario}: {p}" for row in rows for p in row.problems]
    assert problems == [], table(rows) + "\n" + "\n".join(problems[:20])
    assert [row.recovered for row in rows] == [row.points for row in rows]
    assert all(row.points > 0 for row in rows)

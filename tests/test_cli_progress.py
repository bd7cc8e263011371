"""Progress of long runs: plain lines off a terminal (throttled), a rich bar on one; stdout stays clean."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from kakunin.progress import PlainProgress, report


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_come_first_then_at_most_once_per_interval_and_at_the_end() -> None:
    stream, clock = io.StringIO(), FakeClock()
    progress = PlainProgress("kakunin intake run", stream, interval=5.0, clock=clock)
    for done, at in [(0, 0.0), (1, 1.0), (2, 4.9), (3, 5.1), (4, 6.0), (5, 7.0), (6, 7.5)]:
        clock.now = at
        progress(done, 6, f"step {done}")
    assert stream.getvalue().splitlines() == [
        "kakunin intake run: 0/6 (0%) step 0",
        "kakunin intake run: 3/6 (50%) step 3",
        "kakunin intake run: 6/6 (100%) step 6",
    ]


def test_a_stage_without_a_total_is_named_without_counts() -> None:
    stream = io.StringIO()
    PlainProgress("kakunin retention run", stream, clock=FakeClock())(0, 0, "planning")
    assert stream.getvalue() == "kakunin retention run: planning\n"


def test_no_callback_is_no_work() -> None:
    report(None, 1, 2, "ignored")  # a core function without a progress callback must not fail


def test_a_bad_interval_is_refused_before_anything_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kakunin.cli", "lineage", "verify", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "KAKUNIN_HOME": str(tmp_path / "home"), "KAKUNIN_PROGRESS_SECONDS": "soon"},
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert json.loads(done.stdout)["error"]["code"] == "input"
    assert "KAKUNIN_PROGRESS_SECONDS" in done.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_on_a_terminal_stderr_gets_a_bar_and_stdout_only_json(tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "kakunin.cli", "lineage", "verify", "--json"],
            stdout=subprocess.PIPE,
            stderr=follower,
            env={**os.environ, "KAKUNIN_HOME": str(tmp_path / "home"), "KAKUNIN_HMAC_KEY": "", "COLUMNS": "100"},
            timeout=120,
            check=False,
        )
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    assert done.returncode == 0
    assert json.loads(done.stdout)["intact"] is True
    assert "kakunin lineage verify" in shown.decode("utf-8", "replace")
    assert b"kakunin lineage verify:" not in shown, "a terminal gets the bar, not the plain log lines"

"""Scratch folders a killed process leaves (they can hold personal data) are removed by the next run.

A process killed with SIGKILL cannot remove its temporary folder; the next intake or retention run
on the same host does, and leaves alone the folders of processes that are still running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kakunin.scratch import owner_pid, scratch_dir, sweep_scratch
from tests.conftest import Run

HOLDER = """
import sys, time
from kakunin.scratch import scratch_dir
with scratch_dir("unique") as folder:
    (folder / "keys.arrows").write_text("C0000001")  # what a spilled customer number looks like
    print(folder, flush=True)
    time.sleep(120)
"""


@pytest.fixture
def temp_root(tmp_path: Path) -> Path:
    root = tmp_path / "tmp"
    root.mkdir()
    return root


@pytest.fixture
def holders(temp_root: Path) -> Iterator[Callable[[], tuple[subprocess.Popen[str], Path]]]:
    """Start processes that each hold a scratch folder (with a file in it) under `temp_root`."""
    started: list[subprocess.Popen[str]] = []

    def start() -> tuple[subprocess.Popen[str], Path]:
        env = {**os.environ, "TMPDIR": str(temp_root)}
        child = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True, env=env)
        started.append(child)
        assert child.stdout is not None
        return child, Path(child.stdout.readline().strip())

    yield start
    for child in started:
        child.kill()
        child.wait()


def _killed(child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait()


def test_the_next_intake_run_removes_what_a_killed_process_left_and_keeps_a_live_ones(
    kakunin: Callable[..., Run], holders: Callable[[], tuple[subprocess.Popen[str], Path]], temp_root: Path
) -> None:
    killed, left = holders()
    _, live = holders()
    _killed(killed)
    assert (left / "keys.arrows").read_text() == "C0000001"  # SIGKILL: Python could not clean up

    run = kakunin("intake", "run", "--json", env={"TMPDIR": str(temp_root), "KAKUNIN_HMAC_KEY": "cd" * 32})

    assert run.code == 0, run.stderr
    assert not left.exists()
    assert (live / "keys.arrows").exists()
    assert "C0000001" not in run.stdout + run.stderr


def test_the_next_retention_run_removes_what_a_killed_process_left(
    kakunin: Callable[..., Run], holders: Callable[[], tuple[subprocess.Popen[str], Path]], temp_root: Path
) -> None:
    killed, left = holders()
    _killed(killed)

    run = kakunin("retention", "run", "--json", env={"TMPDIR": str(temp_root), "KAKUNIN_HMAC_KEY": "cd" * 32})

    assert run.code == 0, run.stderr
    assert not left.exists()


def test_a_scratch_folder_is_private_and_named_for_its_process(
    temp_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(temp_root))
    monkeypatch.setattr("tempfile.tempdir", None)  # tempfile caches the directory it found first
    with scratch_dir("unique") as folder:
        assert folder.parent == temp_root
        assert owner_pid(folder.name) == os.getpid()
        assert folder.stat().st_mode & 0o777 == 0o700
        assert sweep_scratch(temp_root) == 0  # this process is alive: its folder stays
        assert folder.exists()
    assert not folder.exists()  # and it goes when the block ends


def test_only_scratch_folders_of_gone_processes_are_swept(temp_root: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(gone.stdout)
    folder = temp_root / f"kakunin-s3-{dead}-abc123"
    folder.mkdir()
    (folder / "object").write_bytes(b"PII")
    untouched = [
        temp_root / f"kakunin-s3-{dead}",  # not the scheme's name (no random part)
        temp_root / f"other-s3-{dead}-abc123",
        temp_root / f"kakunin-s3-{os.getppid()}-abc123",  # a live process (our parent)
    ]
    for path in untouched:
        path.mkdir()
    a_file = temp_root / f"kakunin-s3-{dead}-file00"
    a_file.write_text("not a folder")
    target = temp_root / "kept"
    target.mkdir()
    (temp_root / f"kakunin-s3-{dead}-link00").symlink_to(target, target_is_directory=True)

    assert sweep_scratch(temp_root) == 1

    assert not folder.exists()
    assert all(path.is_dir() for path in untouched)
    assert a_file.exists()
    assert target.is_dir()


def test_a_purpose_is_one_lower_case_word() -> None:
    with pytest.raises(ValueError, match="one lower-case word"), scratch_dir("../x"):
        pass
    with scratch_dir("s3") as folder:  # digits are fine
        assert owner_pid(folder.name) == os.getpid()

"""code_version: the package version, plus `git describe` when the code runs from a checkout."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

from kakunin import version as version_module
from kakunin.version import code_version

PACKAGE = f"kakunin {version('kakunin')}"
PACKAGE_DIR = Path(version_module.__file__).resolve().parent


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    code_version.cache_clear()
    yield
    code_version.cache_clear()


def _fake_git(folder: Path, script: str) -> None:
    """A `git` on PATH that runs `script` (sh) whatever it is asked."""
    folder.mkdir(exist_ok=True)
    git = folder / "git"
    git.write_text(f"#!/bin/sh\n{script}\n", encoding="utf-8")
    git.chmod(0o755)


def test_in_a_checkout_it_adds_git_describe() -> None:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    described = subprocess.run(
        [git, "describe", "--always", "--dirty"], cwd=PACKAGE_DIR, capture_output=True, text=True, check=False
    )
    if described.returncode != 0:
        pytest.skip("the package is not in a git checkout")
    assert code_version() == f"{PACKAGE} ({described.stdout.strip()})"


def test_it_is_asked_once_per_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_git(tmp_path / "bin", "echo v9-fake")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert code_version() == f"{PACKAGE} (v9-fake)"
    _fake_git(tmp_path / "bin", "echo v10-fake")
    assert code_version() == f"{PACKAGE} (v9-fake)"


def test_git_dir_not_a_repository_gives_the_package_version(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    monkeypatch.setenv("GIT_DIR", str(tmp_path))
    assert code_version() == PACKAGE


def test_without_git_on_path_it_is_the_package_version(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert code_version() == PACKAGE


def test_a_failing_git_gives_the_package_version(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_git(tmp_path / "bin", "echo 'fatal: not a git repository' >&2; exit 128")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert code_version() == PACKAGE


def test_untracked_package_files_do_not_report_an_enclosing_repository(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # as for a wheel installed into a .venv inside another project's checkout
    _fake_git(tmp_path / "bin", 'if [ "$1" = ls-files ]; then exit 1; fi; echo other-project')
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert code_version() == PACKAGE


def test_a_hanging_git_is_given_up_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_git(tmp_path / "bin", f"exec {shutil.which('sleep') or '/bin/sleep'} 30")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setattr(version_module, "GIT_TIMEOUT_SECONDS", 0.5)
    started = time.monotonic()
    assert code_version() == PACKAGE
    assert time.monotonic() - started < 10


def test_without_package_metadata_it_says_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise PackageNotFoundError(name)

    monkeypatch.setattr(version_module, "version", missing)
    assert code_version() == "kakunin (not installed)"

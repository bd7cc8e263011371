"""Which code wrote a manifest: the package version and, from a git checkout, the commit.

The package version alone does not tell apart two runs from the same checkout at different
commits (or with uncommitted changes), so a checkout adds `git describe --always --dirty`.
Git is optional: when it is missing, slow or the code is not in a checkout, the package
version is the answer.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

GIT_TIMEOUT_SECONDS = 3.0
_PACKAGE_DIR = Path(__file__).resolve().parent


@functools.cache
def code_version() -> str:
    """`kakunin 0.1.0 (a6a5bc1-dirty)` in a checkout, `kakunin 0.1.0` elsewhere; asked once per process."""
    try:
        package = f"kakunin {version('kakunin')}"
    except PackageNotFoundError:
        return "kakunin (not installed)"
    described = _git_describe()
    return f"{package} ({described})" if described else package


def _git_describe() -> str | None:
    """The checkout's description, or None: no git, not a checkout, or git failed or hung.

    The package's own `__init__.py` must be tracked: a wheel installed into a `.venv` inside
    some other repository must not report that repository's commit.
    """
    git = shutil.which("git")
    if git is None:
        return None
    tracked = _git(git, "ls-files", "--error-unmatch", "--", "__init__.py")
    return _git(git, "describe", "--always", "--dirty") if tracked is not None else None


def _git(git: str, *args: str) -> str | None:
    """Stripped stdout of a git command run in the package's folder, or None if it failed."""
    try:
        done = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            [git, *args],
            cwd=_PACKAGE_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    output = done.stdout.strip()
    return output if done.returncode == 0 and output else None

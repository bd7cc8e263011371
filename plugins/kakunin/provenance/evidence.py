"""Find and hash the evidence files a document names, without trusting its paths.

A path is used only if it is relative, has no `..`, passes through no link and stays
inside the batch folder once resolved; anything else is `unsafe` and never opened.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from kakunin.hashing import sha256_file
from kakunin.provenance.checks import EvidenceFileState
from kakunin.provenance.model import Evidence

_DRIVE = re.compile(r"^[A-Za-z]:")


def normalise_evidence_path(relative: str) -> str | None:
    """The one spelling of an evidence path (`./a//b` → `a/b`), or None when it is unsafe.

    Submit records files under this form and the gate looks them up by it, so every
    comparison of evidence paths goes through here. Unsafe: empty, NUL, backslashes, a
    drive letter, absolute, or any `..` (even one that would stay inside).
    """
    if not relative or "\x00" in relative or "\\" in relative or _DRIVE.match(relative):
        return None
    parts = PurePosixPath(relative)
    if parts.is_absolute() or ".." in parts.parts or not parts.parts:
        return None
    return parts.as_posix()


def resolve_inside(batch_dir: Path, relative: str) -> Path | None:
    """The file `relative` names inside `batch_dir`, or None when the path is unsafe."""
    normalised = normalise_evidence_path(relative)
    if normalised is None:
        return None
    root = batch_dir.resolve()
    current = root
    for part in PurePosixPath(normalised).parts:
        current = current / part
        if current.is_symlink():
            return None
    if not current.resolve().is_relative_to(root):
        return None
    return current


def inspect_evidence(batch_dir: Path, entries: list[Evidence]) -> dict[str, EvidenceFileState]:
    """The state of each evidence entry's file, keyed by evidence id."""
    states: dict[str, EvidenceFileState] = {}
    for entry in entries:
        path = resolve_inside(batch_dir, entry.file)
        if path is None:
            states[entry.id] = EvidenceFileState.UNSAFE
        elif not path.is_file():
            states[entry.id] = EvidenceFileState.MISSING
        else:
            try:
                digest = sha256_file(path)
            except OSError:
                states[entry.id] = EvidenceFileState.MISSING
                continue
            same = digest == entry.sha256.strip().lower()
            states[entry.id] = EvidenceFileState.OK if same else EvidenceFileState.HASH_MISMATCH
    return states

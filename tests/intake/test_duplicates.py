"""The uniqueness check's keys, spilled to hash partitions: the same duplicates as counting every key at once."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from kakunin.intake.duplicates import partitions_for, unique_keys

# Sixty keys, three of them repeated far apart (in other chunks): K000 three times, K013 and K050 twice.
REPEATS = {30: "K000", 45: "K000", 59: "K013", 2: "K050"}
KEYS: list[str | None] = [REPEATS.get(n, f"K{n:03d}") for n in range(60)]


def _duplicates(keys: list[str | None], *, chunk: int, partitions: int) -> list[int]:
    """Source rows (100 + position) the check flags, keys fed `chunk` at a time."""
    with unique_keys(["key"], partitions=partitions) as gathered:
        for start in range(0, len(keys), chunk):
            part = keys[start : start + chunk]
            gathered["key"].add(pa.array(part, pa.string()), pa.array(range(100 + start, 100 + start + len(part))))
        return gathered["key"].duplicated_rows().to_pylist()


def _expected(keys: list[str | None]) -> list[int]:
    counts = Counter(k for k in keys if k)
    return [100 + i for i, k in enumerate(keys) if k and counts[k] > 1]


@pytest.mark.parametrize("partitions", [1, 2, 7, 64])
@pytest.mark.parametrize("chunk", [1, 3, 60])
def test_duplicates_across_chunks_and_partitions_are_all_found(chunk: int, partitions: int) -> None:
    found = _duplicates(KEYS, chunk=chunk, partitions=partitions)
    assert found == _expected(KEYS) == [100, 102, 113, 130, 145, 150, 159]


@pytest.mark.parametrize("partitions", [1, 5])
def test_nulls_and_blanks_are_not_keys_however_often_they_occur(partitions: int) -> None:
    keys: list[str | None] = [None, "", "  ", "\n", None, "", "A1", "\u3000", "a1"]
    assert _duplicates(keys, chunk=2, partitions=partitions) == [106, 108]


@pytest.mark.parametrize("partitions", [1, 5])
def test_keys_are_compared_as_the_subject_digest_normalises_them(partitions: int) -> None:
    """A trailing newline, case and full-width letters do not make two keys different."""
    keys: list[str | None] = ["C1\n", "x", "c1", "y", " Ｃ１ ", "C2", "C12"]
    assert _duplicates(keys, chunk=2, partitions=partitions) == [100, 102, 104]


def test_partitions_hold_about_a_chunk_each() -> None:
    rows = (0, 1, 250_000, 250_001, 1_000_000, 4_000_000)
    assert [partitions_for(n, 250_000) for n in rows] == [1, 1, 1, 2, 4, 16]


def test_the_partition_files_are_removed_afterwards_also_on_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spill = tmp_path / "tmp"
    spill.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill))
    with unique_keys(["a", "b"], partitions=3) as gathered:
        for column in ("a", "b"):
            gathered[column].add(pa.array(["x", "y", "x", "z"]), pa.array([1, 2, 3, 4]))
        assert len([p for p in spill.rglob("*") if p.is_file()]) >= 2  # the keys really went to disk
        assert gathered["a"].duplicated_rows().to_pylist() == [1, 3]
    assert list(spill.iterdir()) == []
    with pytest.raises(RuntimeError, match="stop"):
        _fail_after_adding()
    assert list(spill.iterdir()) == []


def _fail_after_adding() -> None:
    with unique_keys(["a"], partitions=3) as gathered:
        gathered["a"].add(pa.array(["x", "x"]), pa.array([1, 2]))
        raise RuntimeError("stop")

"""Verify's fast set comparisons give exactly the plain comparisons' answers, even when row keys collide."""

from __future__ import annotations

import uuid

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from kakunin.lineage import rowkeys


def _ids(count: int, seed: int) -> list[str]:
    return [str(uuid.UUID(int=(seed << 64) + i)) for i in range(count)]


@pytest.fixture(params=["real keys", "every key the same"])
def keys(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "every key the same":  # a forger's collision: the strings must still decide

        def constant(key: np.ndarray, text: np.ndarray, width: int) -> np.ndarray:
            key[:] = 0
            return key

        monkeypatch.setattr(rowkeys, "_fold", constant)  # every key of every comparison is made by it
    return str(request.param)


@pytest.mark.parametrize(
    "values",
    [
        _ids(50, 1) + _ids(3, 2),  # three strangers
        _ids(50, 1)[::-1],
        [*_ids(5, 1), "x" * 36, "short", *_ids(2, 1)],  # other widths: the plain lookup
        [*_ids(5, 1), None],
        [],
    ],
)
def test_is_in_answers_as_arrow_does(keys: str, values: list[str | None]) -> None:
    value_set = pa.array(_ids(50, 1) + _ids(10, 3), pa.string())
    array = pa.array(values, pa.string())
    assert rowkeys.IdSet(value_set).is_in(array).to_pylist() == pc.is_in(array, value_set=value_set).to_pylist()
    assert (
        rowkeys.IdSet(value_set.slice(2))
        .is_in(array.slice(1))
        .equals(pc.is_in(array.slice(1), value_set=value_set.slice(2)))
    )


def test_is_in_answers_a_chunked_column_chunk_by_chunk(keys: str) -> None:
    """An index file's ids as read, a chunk per row group (some empty): the answers are Arrow's, in place."""
    value_set = pa.array(_ids(50, 1), pa.string())
    values = pa.chunked_array(
        [
            pa.array(_ids(20, 1)),
            pa.array([], pa.string()),
            pa.array(_ids(3, 2) + _ids(50, 1)[30:]),
            pa.array(_ids(1, 4)),
        ]
    )
    found = rowkeys.IdSet(value_set).is_in(values)
    assert isinstance(found, pa.ChunkedArray)
    assert found.to_pylist() == pc.is_in(values, value_set=value_set).to_pylist()
    assert values.filter(pc.invert(found)).to_pylist() == _ids(3, 2) + _ids(1, 4)


def _rows(ids: list[str], digests: list[str]) -> pa.Table:
    return pa.table({"record_id": ids, "kind": ["email"] * len(ids), "digest": digests})


def test_same_rows_holds_for_the_same_rows_in_any_order(keys: str) -> None:
    ids, digests = _ids(40, 1), [f"{i:064x}" for i in range(40)]
    left = _rows(ids, digests)
    right = left.take(pa.array(np.random.default_rng(7).permutation(40)))
    same = rowkeys.same_rows(left, right, ["record_id", "kind", "digest"], keyed_by=["record_id", "digest"])
    assert same is (keys == "real keys")  # colliding keys cannot pair the rows: the caller compares as sets


@pytest.mark.parametrize("change", ["digest", "kind", "row gone", "duplicate"])
def test_same_rows_never_holds_for_different_rows(keys: str, change: str) -> None:
    ids, digests = _ids(40, 1), [f"{i:064x}" for i in range(40)]
    left = _rows(ids, digests)
    if change == "digest":
        right = _rows(ids, [*digests[:-1], "f" * 64])
    elif change == "kind":
        right = left.set_column(1, "kind", pa.array(["email"] * 39 + ["phone"]))
    elif change == "row gone":
        right = _rows(ids[:-1], digests[:-1])
    else:
        right = _rows([*ids[:-1], ids[0]], [*digests[:-1], digests[0]])
    assert not rowkeys.same_rows(left, right, ["record_id", "kind", "digest"], keyed_by=["record_id", "digest"])


def test_is_in_answers_a_long_chunk_in_pieces_as_arrow_does(keys: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A block of an index file comes as one long chunk: it is looked up in pieces (one per core), answered whole."""
    monkeypatch.setattr(rowkeys, "_PIECE", 7)
    value_set = pa.array(_ids(50, 1), pa.string())
    array = pa.array(_ids(20, 1) + _ids(3, 2) + _ids(50, 1)[30:] + _ids(1, 4), pa.string())
    lookup = rowkeys.IdSet(value_set)
    assert lookup.is_in(array).equals(pc.is_in(array, value_set=value_set))
    chunked = pa.chunked_array([array, array.slice(5, 9)])
    assert lookup.is_in(chunked).to_pylist() == pc.is_in(chunked, value_set=value_set).to_pylist()

"""Subject index rows sorted by an integer prefix of the digest come out exactly as Arrow's own sort puts them."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from kakunin.lineage.digest_order import SORT_KEYS, sorted_by_digest


def _index(digests: list[str | None], seed: int = 3) -> pa.Table:
    chooser = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    ids = [f"0190a1b2-c3d4-7e5f-8a6b-{chooser.randrange(16**12):012x}" for _ in digests]
    kinds = pa.array([chooser.choice(["email", "phone", "name"]) for _ in digests]).dictionary_encode()
    return pa.table({"record_id": ids, "kind": kinds, "digest": pa.array(digests, pa.string())})


def _hex(chooser: random.Random) -> str:
    return f"{chooser.randrange(16**64):064x}"


def test_unique_digests_come_out_in_digest_order() -> None:
    chooser = random.Random(1)  # noqa: S311 - reproducible test data, not secrets
    table = _index([_hex(chooser) for _ in range(5000)])
    result = sorted_by_digest(table)
    assert result.equals(table.sort_by(SORT_KEYS))
    assert result.column("digest").to_pylist() == sorted(table.column("digest").to_pylist())


def test_repeated_digests_and_shared_prefixes_are_ordered_by_the_whole_digest_then_the_record_id() -> None:
    chooser = random.Random(2)  # noqa: S311 - reproducible test data, not secrets
    same_start = "ab12cd34"  # the 8 bytes the prefix is read from, shared: only the rest tells them apart
    digests = [same_start + _hex(chooser)[8:] for _ in range(300)] + [_hex(chooser) for _ in range(300)]
    digests += digests[:200]  # one person's identifier in several records
    chooser.shuffle(digests)
    table = _index(digests)
    assert sorted_by_digest(table).equals(table.sort_by(SORT_KEYS))


def test_rows_equal_in_every_key_keep_their_input_order() -> None:
    table = pa.table(
        {
            "record_id": ["r2", "r1", "r2", "r1"],
            "kind": ["email", "email", "phone", "phone"],
            "digest": ["f" * 64, "0" * 64, "f" * 64, "0" * 64],
        }
    )
    assert sorted_by_digest(table).column("kind").to_pylist() == ["email", "phone", "email", "phone"]


@pytest.mark.parametrize(
    "digests",
    [
        ["abc", "ab", "b", "a"],  # not fixed-width
        ["b" * 64, None, "a" * 64],  # a null
        ["bbbb", "aaaa"],  # narrower than the 8-byte prefix
        [],
    ],
)
def test_what_the_prefix_cannot_order_is_left_to_arrows_sort(digests: list[str | None]) -> None:
    table = _index(digests)
    assert sorted_by_digest(table).equals(table.sort_by(SORT_KEYS))


def test_a_chunked_digest_column_is_sorted_whole() -> None:
    chooser = random.Random(4)  # noqa: S311 - reproducible test data, not secrets
    first, second = _index([_hex(chooser) for _ in range(100)]), _index([_hex(chooser) for _ in range(100)], seed=5)
    table = pa.concat_tables([first, second])
    assert table.column("digest").num_chunks == 2
    assert sorted_by_digest(table).equals(table.sort_by(SORT_KEYS))

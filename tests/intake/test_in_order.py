"""`in_order`: the per-slice kernels on several threads, results in the slices' order, memory bounded."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from kakunin.intake.work import in_order


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_results_come_in_the_order_of_the_items_whatever_finishes_first(workers: int) -> None:
    def slow_for_small(n: int) -> int:
        time.sleep(0.002 * (10 - n % 10))  # early items finish last
        return n * n

    assert list(in_order(slow_for_small, range(25), workers=workers)) == [n * n for n in range(25)]


def test_items_run_on_more_than_one_thread_at_once() -> None:
    both_started = threading.Barrier(2, timeout=10)

    def meet(n: int) -> int:
        both_started.wait()  # returns only when two items are in flight together (BrokenBarrierError otherwise)
        return n

    assert list(in_order(meet, range(4), workers=2)) == [0, 1, 2, 3]


def test_one_worker_runs_on_the_callers_thread() -> None:
    caller = threading.get_ident()
    assert set(in_order(lambda _: threading.get_ident(), range(3), workers=1)) == {caller}


def test_the_items_are_pulled_on_the_callers_thread_a_few_ahead_of_the_results() -> None:
    """A reader that must go in order (the identifiers file) is read on one thread; at most `workers`
    items are in flight, so a batch of millions of slices never sits in memory at once."""
    caller = threading.get_ident()
    pulled: list[int] = []

    def items() -> Iterator[int]:
        for n in range(100):
            assert threading.get_ident() == caller
            pulled.append(n)
            yield n

    results = in_order(lambda n: n, items(), workers=2)
    for n, result in enumerate(results):
        assert result == n
        assert len(pulled) <= n + 2  # this result and the one computing beside it: `workers` in flight


def test_an_error_surfaces_in_order_and_later_items_are_not_started() -> None:
    started: list[int] = []
    lock = threading.Lock()

    def fail_at_five(n: int) -> int:
        with lock:
            started.append(n)
        if n == 5:
            raise ValueError("item 5")
        return n

    seen: list[int] = []
    results = in_order(fail_at_five, range(1000), workers=2)
    with pytest.raises(ValueError, match="item 5"):
        seen.extend(results)
    assert seen == [0, 1, 2, 3, 4]  # everything before the failing item, nothing after it
    assert max(started) < 10  # not the other 990

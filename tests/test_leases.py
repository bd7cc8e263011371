"""Leases: one holder at a time, taken over only after expiry, and a holder that lost one finds out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kakunin import leases
from kakunin.leases import LeaseLost, acquire
from kakunin.storage import LocalStore
from kakunin.storage.local import machine_id


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path)


def test_a_held_lease_is_refused_to_a_second_worker(store: LocalStore) -> None:
    clock = Clock()
    first = acquire(store, "intake/ds/b1", owner="a", now=clock, ttl=timedelta(minutes=5))
    assert first is not None
    assert acquire(store, "intake/ds/b1", owner="b", now=clock) is None
    assert acquire(store, "intake/ds/b2", owner="b", now=clock) is not None, "other names are independent"


def test_a_released_lease_is_free_at_once(store: LocalStore) -> None:
    clock = Clock()
    with acquire(store, "retention", owner="a", now=clock) as lease:  # type: ignore[union-attr]
        assert leases.read(store, "retention").owner == "a"  # type: ignore[union-attr]
    assert lease.record.released
    second = acquire(store, "retention", owner="b", now=clock)
    assert second is not None
    assert second.record.owner == "b"


def test_an_expired_lease_is_taken_over_and_the_old_holder_learns_it(store: LocalStore) -> None:
    clock = Clock()
    old = acquire(store, "retention", owner="a", now=clock, ttl=timedelta(minutes=5))
    assert old is not None
    old.renew()  # fresh: nothing to write
    assert old.record.generation == 1
    clock.at += timedelta(minutes=4)
    old.renew()  # renewing in time keeps it
    assert old.record.generation == 2
    clock.at += timedelta(minutes=4)
    assert acquire(store, "retention", owner="b", now=clock) is None, "renewed: still held"
    clock.at += timedelta(minutes=2)
    new = acquire(store, "retention", owner="b", now=clock)
    assert new is not None
    with pytest.raises(LeaseLost):
        old.renew()
    old.release()  # losing it is not an error on the way out
    assert leases.read(store, "retention").owner == "b"  # type: ignore[union-attr]


def test_a_lease_of_a_killed_process_on_this_machine_is_free_at_once(store: LocalStore) -> None:
    import os
    import subprocess
    import sys

    clock = Clock()
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(done.stdout)
    held = acquire(store, "intake/ds/b1", owner=f"{machine_id()}:{dead_pid}:abcd", now=clock)
    assert held is not None
    taken = acquire(store, "intake/ds/b1", owner=f"{machine_id()}:{os.getpid()}:beef", now=clock)
    assert taken is not None, "the holder is gone: no need to wait 30 minutes"
    assert acquire(store, "intake/ds/b1", owner="elsewhere:1:cafe", now=clock) is None, "a live holder still holds"

"""What a retention run works with: the store, the contracts, the as-of date, the clock and who runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from kakunin.contracts import Registry
from kakunin.errors import InputError
from kakunin.leases import DEFAULT_TTL, Lease
from kakunin.storage import ObjectStore


class InjectedFailure(RuntimeError):
    """Raised by the `fail_at` test hook to simulate a run killed at a given point."""


@dataclass
class RetentionContext:
    store: ObjectStore
    registry: Registry
    as_of: date
    now: Callable[[], datetime]
    actor: str
    fail_at: set[str] = field(default_factory=set)
    future_as_of: bool = False  # the as-of date is after today, and the caller explicitly allowed it
    lease_ttl: timedelta = DEFAULT_TTL
    lease: Lease | None = None

    def checkpoint(self, name: str) -> None:
        if name in self.fail_at:
            raise InjectedFailure(f"injected failure at {name}")

    def renew(self) -> None:
        """Extend the run's lease between units of work; `LeaseLost` stops a run that was taken over."""
        if self.lease is not None:
            self.lease.renew()


def check_as_of(as_of: date, *, today: date, allow_future: bool) -> bool:
    """Whether `as_of` is in the future; refuse one unless explicitly allowed.

    A purge as of a later day destroys records whose retention has not ended: that is
    a demo or a deliberate early purge, never a default. Returns True when it is allowed.
    """
    if as_of <= today:
        return False
    if not allow_future:
        raise InputError(
            f"as-of {as_of} is after today ({today}): that would purge records whose retention has not ended; "
            "pass --allow-future-as-of (DAG param allow_future_as_of) if that is really meant"
        )
    return True

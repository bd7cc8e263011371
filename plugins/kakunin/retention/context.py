"""What a retention run works with: the store, the contracts, the as-of date, the clock and who runs it.

One builder, `RetentionContext.from_env`, serves the CLI and the DAG alike, so both purge
from the same store, judge by the same contracts and clock, and name who ran them the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from kakunin import audit, clock
from kakunin.contracts import Registry, default_expectations_root
from kakunin.errors import InputError
from kakunin.keys import hmac_key_if_set
from kakunin.leases import DEFAULT_TTL, Lease
from kakunin.storage import ObjectStore, open_store


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
    hmac_key: bytes | None = None  # seals the certificate chain and the audit entries (lineage/seal.py) when set
    deferred: list[str] = field(default_factory=list)  # objects the store's lock kept from this run, and why

    @classmethod
    def from_env(
        cls,
        *,
        as_of: date | None = None,
        future_as_of: bool = False,
        actor: str | None = None,
        store: ObjectStore | None = None,
    ) -> RetentionContext:
        """The context of a real run: `KAKUNIN_HOME`'s store, `KAKUNIN_EXPECTATIONS`' contracts, the wall
        clock, as of today unless given, and the actor given (else `KAKUNIN_ACTOR` or the OS user).
        With `KAKUNIN_HMAC_KEY` set, what the run writes to the chains is sealed.

        `future_as_of` is the caller's `check_as_of` verdict: it is recorded in the certificate. A `store`
        given (the DAGs build theirs from an Airflow connection) replaces `open_store()`.
        """
        return cls(
            store=store if store is not None else open_store(),
            registry=Registry(default_expectations_root()),
            as_of=as_of if as_of is not None else clock.today(),
            now=clock.now_utc,
            actor=actor or audit.current_actor(),
            future_as_of=future_as_of,
            hmac_key=hmac_key_if_set(),
        )

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
            "pass --allow-future-as-of (DAG param allow_future) if that is really meant"
        )
    return True

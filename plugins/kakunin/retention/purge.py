"""The retention run: plan what must go, open a certificate, destroy, close the certificate.

Curated data is partitioned by expiry month, so a run reads only partitions whose month
has begun by the as-of date: a partition wholly past its time is deleted as whole files
(its record ids read for the certificate), a partition the as-of date falls in is
rewritten without its expired records, and later partitions are not opened. The cost
follows what has expired, not the size of the store.

The certificate is written (open) before anything is destroyed, naming every file and
record it will remove, and closed after, with each file's hash before and after. A run
that dies midway leaves the open certificate; the next run finishes exactly that plan
first, so nothing is purged twice and nothing planned is forgotten.
"""

from __future__ import annotations

import logging

from kakunin.errors import KakuninError
from kakunin.layout import RETENTION_LEASE
from kakunin.leases import acquire, new_owner
from kakunin.leases import read as read_lease
from kakunin.leftovers import find_leftovers, remove_leftovers
from kakunin.lineage.formats import Certificate
from kakunin.progress import Progress, report
from kakunin.retention.carry_out import carry_out
from kakunin.retention.certificates import (
    audit_opened,
    close_certificate,
    finish_journals,
    link_closed_certificates,
    open_certificate,
    open_certificates,
)
from kakunin.retention.context import InjectedFailure, RetentionContext, check_as_of
from kakunin.retention.plan import DryRun, FilePlan, Plan, dry_run, make_plan
from kakunin.scratch import sweep_scratch

__all__ = [
    "RETENTION_LEASE",
    "DryRun",
    "FilePlan",
    "InjectedFailure",
    "Plan",
    "RetentionBusy",
    "RetentionContext",
    "carry_out",
    "check_as_of",
    "close_certificate",
    "dry_run",
    "finish_journals",
    "link_closed_certificates",
    "make_plan",
    "open_certificate",
    "open_certificates",
    "run_retention",
]

log = logging.getLogger(__name__)


class RetentionBusy(KakuninError):
    """Another retention run holds the lease: this one does nothing and says so."""

    code = "busy"


def run_retention(ctx: RetentionContext, *, progress: Progress | None = None) -> list[Certificate]:
    """Finish any interrupted run, then plan and carry out this one; returns the closed certificates.

    One run at a time: the run holds the `retention` lease throughout (renewed between
    files) and `RetentionBusy` is raised, with nothing done, when another run holds it.
    `progress` hears of planning and of each file carried out.
    """
    lease = acquire(ctx.store, RETENTION_LEASE, owner=new_owner(), now=ctx.now, ttl=ctx.lease_ttl)
    if lease is None:
        holder = read_lease(ctx.store, RETENTION_LEASE)
        who = f" ({holder.owner}, since {holder.acquired_at:%Y-%m-%d %H:%M} UTC)" if holder else ""
        raise RetentionBusy(
            f"another retention run is in progress{who}; this run did nothing. "
            "Run again once it has finished (its certificate will show what it purged)."
        )
    ctx.lease = lease
    try:
        link_closed_certificates(ctx.store, hmac_key=ctx.hmac_key)
        finish_journals(ctx)
        removed = remove_leftovers(ctx.store, find_leftovers(ctx.store, now=ctx.now()))
        if removed:
            log.info("removed %d leftover object(s) of runs that did not finish", removed)
        sweep_scratch()  # local copies a killed process left: they can hold personal data
        closed = []
        for certificate in open_certificates(ctx.store):
            audit_opened(ctx, certificate)
            closed.append(carry_out(ctx, certificate, progress=progress))
        ctx.renew()
        report(progress, 0, 0, "planning")
        plan = make_plan(ctx)
        if plan.empty:
            return closed
        ctx.renew()
        certificate = open_certificate(ctx, plan)
        ctx.checkpoint("opened")
        closed.append(carry_out(ctx, certificate, progress=progress))
        return closed
    finally:
        ctx.lease = None
        lease.release()

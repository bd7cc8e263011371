"""`kakunin intake run`: every pending batch through the same six steps the DAG runs, in one process."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import replace

from pydantic import BaseModel

from kakunin.batches import Rejection, short_rule_name
from kakunin.errors import KakuninError
from kakunin.intake.context import BatchBusy, IntakeContext, StepOutcome, StepStatus, holding_lease
from kakunin.intake.steps import STEPS
from kakunin.intake.work import find_pending
from kakunin.layout import BatchRef
from kakunin.leftovers import find_leftovers, remove_leftovers
from kakunin.lineage.formats import ManifestHeader
from kakunin.progress import Progress, report
from kakunin.scratch import sweep_scratch
from kakunin.storage import load

log = logging.getLogger(__name__)


class BatchResult(BaseModel):
    """One line of the intake summary."""

    batch: str
    decision: str
    received: int | None
    published: int | None
    quarantined: int | None
    codes: list[str]
    steps: list[StepOutcome]
    error: str | None = None


class BatchGone(KakuninError):
    """The batch left landing (another worker finished it) between listing and taking its lease."""


def run_batch(
    ref: BatchRef,
    ctx: IntakeContext,
    *,
    only_if_pending: bool = False,
    step_done: Callable[[str], None] | None = None,
) -> BatchResult:
    """Run (or finish) one batch under its lease; a step that already ran is skipped, so this repairs
    a half-done batch. `BatchBusy` if another worker holds the batch; with `only_if_pending`,
    `BatchGone` if another worker finished it before this one got the lease. `step_done(label)`
    is called after each step."""
    with holding_lease(ref, ctx) as lease:
        if only_if_pending and not ctx.store.exists(ref.submission):
            raise BatchGone(f"batch {ref} was finished by another worker")
        leased = replace(ctx, lease=lease)
        outcomes = []
        for index, (name, step) in enumerate(STEPS):
            if index:
                lease.renew(force=True)  # each step starts with the whole lease ahead of it
            outcomes.append(step(ref, leased))
            if step_done is not None:
                step_done(f"{ref}: {name}")
            if outcomes[-1].status is StepStatus.AWAITING:  # left in landing until a second user approves it
                return _not_run(ref, StepStatus.AWAITING.value, "run `kakunin provenance approve` as a second user")
        return summarise(ref, ctx, outcomes)


def _not_run(ref: BatchRef, decision: str, message: str) -> BatchResult:
    return BatchResult(
        batch=str(ref),
        decision=decision,
        received=None,
        published=None,
        quarantined=None,
        codes=[],
        steps=[],
        error=message,
    )


def summarise(ref: BatchRef, ctx: IntakeContext, outcomes: list[StepOutcome]) -> BatchResult:
    store = ctx.store
    if store.exists(ref.rejection):
        rejection = load(store, ref.rejection, Rejection)
        codes = sorted({f.code.value for f in rejection.findings if f.severity == "error"})
        return BatchResult(
            batch=str(ref),
            decision=f"rejected ({rejection.stage})",
            received=None,
            published=0,
            quarantined=None,
            codes=codes,
            steps=outcomes,
        )
    header = load(store, ref.manifest_header, ManifestHeader)
    warnings = ["parse.value"] if header.counts.parse_failed else []
    warnings += [short_rule_name(r.rule) for r in header.gx.rules if not r.success]
    warnings += ["subject.erased"] if header.counts.erased else []
    return BatchResult(
        batch=str(ref),
        decision="published",
        received=header.counts.received,
        published=header.counts.published,
        quarantined=header.counts.quarantined,
        codes=warnings,
        steps=outcomes,
    )


def run_intake(
    ctx: IntakeContext, *, batch_id: str | None = None, progress: Progress | None = None
) -> list[BatchResult]:
    """Every pending batch (or just `batch_id`), oldest first, then what crashed runs left behind.

    One batch's failure does not stop the others: it is reported as `failed` with its
    message, and the batch stays pending for the next run. A batch another worker holds is
    reported as `busy` and left to that worker. `progress` counts steps (six per batch).
    Scratch folders that killed runs left on this host go first (`kakunin.scratch`).
    """
    sweep_scratch()
    pending = find_pending(ctx.store)
    if batch_id is not None:
        pending = [ref for ref in pending if ref.batch_id == batch_id]
    total = len(pending) * len(STEPS)
    report(progress, 0, total, f"{len(pending)} pending batch(es)")
    if pending:
        from kakunin.intake.accuracy import prepare_in_background

        prepare_in_background()
    results = []
    done = 0

    def step_done(label: str) -> None:
        nonlocal done
        done += 1
        report(progress, done, total, label)

    for number, ref in enumerate(pending):
        try:
            results.append(run_batch(ref, ctx, only_if_pending=True, step_done=step_done))
        except BatchGone:
            continue
        except BatchBusy as exc:
            results.append(_not_run(ref, "busy (another worker)", str(exc)))
        except KakuninError as exc:
            log.warning("batch %s failed: %s", ref, exc)
            results.append(_not_run(ref, "failed", str(exc)))
        except Exception as exc:  # one batch's defect must not keep every later batch pending
            if os.environ.get("KAKUNIN_DEBUG") == "1":
                log.exception("batch %s failed", ref)
            results.append(_not_run(ref, "failed", f"unexpected {type(exc).__name__}: {exc}"))
        done = (number + 1) * len(STEPS)  # a batch that stopped early still counts as done
        report(progress, done, total, f"{ref}: {results[-1].decision if results else 'done'}")
    removed = remove_leftovers(ctx.store, find_leftovers(ctx.store, now=ctx.now()))
    if removed:
        log.info("removed %d leftover object(s) of runs that did not finish", removed)
    return results

"""`kakunin retention run`, `kakunin hold add|remove|list`, `kakunin erasure request`."""

from __future__ import annotations

import sys
from typing import Any

import click

from kakunin import clock, render
from kakunin.cli.base import (
    EXIT_BUSY,
    CliError,
    WholeHelpGroup,
    as_of_option,
    dataset_option,
    day,
    emit_json,
    json_option,
)
from kakunin.cli.progress import shown
from kakunin.cli.subject_options import identifier_options


@click.group(cls=WholeHelpGroup)
def retention() -> None:
    """Purge what is past its retention (APPI Art. 22), keep what is held, certify both."""


def _retention_context(as_of: Any, *, future_as_of: bool = False) -> Any:
    from kakunin.retention.context import RetentionContext

    return RetentionContext.from_env(as_of=day(as_of), future_as_of=future_as_of)


@retention.command("run")
@as_of_option
@click.option("--dry-run", is_flag=True, help="Print what would go, per dataset and expiry month, and what is held.")
@click.option(
    "--allow-future-as-of",
    "allow_future",
    is_flag=True,
    help="Allow an as-of date after today (purges records before their retention ends; recorded in the certificate).",
)
@json_option
def retention_run(as_of: Any, dry_run: bool, allow_future: bool, as_json: bool) -> None:
    """Remove every curated record whose retention_until is before the as-of date (default today).

    A dry run may look ahead to any date; a real run as of a later day than today needs
    --allow-future-as-of. Exit 75 when another retention run holds the lease (nothing done).
    """
    from kakunin.retention.purge import check_as_of, make_plan
    from kakunin.retention.purge import dry_run as summarise

    future = check_as_of(day(as_of), today=clock.today(), allow_future=allow_future or dry_run)
    ctx = _retention_context(as_of, future_as_of=future)
    if dry_run:
        summary = summarise(make_plan(ctx))
        if as_json:
            emit_json(summary.model_dump(mode="json"))
        else:
            click.echo(render.dry_run_text(summary), nl=False)
        return
    certificates = run_or_busy(ctx)
    if as_json:
        emit_json([c.model_dump(mode="json") for c in certificates])
    else:
        click.echo(render.certificates_text(certificates, as_of=ctx.as_of), nl=False)
    tell_deferred(ctx, as_json=as_json)


def tell_deferred(ctx: Any, *, as_json: bool) -> None:
    """Say what the store's Object Lock kept from this run (not in any certificate); on stderr under --json,
    so standard output stays the certificates' JSON."""
    for line in ctx.deferred:
        click.echo(line, err=as_json)


def run_or_busy(ctx: Any) -> Any:
    """Run retention with progress on stderr; exit 75 (busy, nothing done) if another run holds the lease."""
    from kakunin.retention.purge import RetentionBusy, run_retention

    try:
        with shown("kakunin retention run") as progress:
            return run_retention(ctx, progress=progress)
    except RetentionBusy as busy:
        raise CliError(str(busy), code="busy", exit_code=EXIT_BUSY) from busy


@click.group(cls=WholeHelpGroup)
def hold() -> None:
    """Legal holds: records under a hold are never purged while it stands."""


@hold.command("add")
@dataset_option
@click.option("--batch", "batch_id", default=None, help="Hold one batch of the dataset.")
@click.option("--record", "record_id", default=None, help="Hold one record.")
@click.option("--reason", required=True, help="Why (litigation, regulator's inquiry, ...).")
@click.option("--by", "placed_by", default=None, help="Who places it (default: KAKUNIN_ACTOR or the OS user).")
@json_option
def hold_add(
    dataset: str, batch_id: str | None, record_id: str | None, reason: str, placed_by: str | None, as_json: bool
) -> None:
    """Place a hold on a dataset, a batch or a record; prints its hold id.

    On S3 with Object Lock it also sets a legal hold on the objects it covers (the manifest,
    receipt and commit record of each batch it reaches, and its curated files unless the hold
    is on one record).
    """
    from kakunin import audit
    from kakunin.retention.holds import can_hold, lock_held_objects, place_hold
    from kakunin.storage import open_store

    store = open_store()
    placed = place_hold(
        store,
        dataset=dataset,
        batch_id=batch_id,
        record_id=record_id,
        reason=reason,
        placed_by=placed_by or audit.current_actor(),
        now=clock.now_utc(),
    )
    locked = lock_held_objects(store, placed) if can_hold(store) else None
    if as_json:
        emit_json(placed.model_dump(mode="json") | {"legal_holds": None if locked is None else len(locked)})
    else:
        click.echo(f"{placed.hold_id}: {placed.scope} {placed.target} held ({placed.reason})")
        if locked is not None:
            click.echo(f"{len(locked)} object(s) under an S3 legal hold")


@hold.command("remove")
@click.argument("hold_id")
@click.option("--reason", required=True, help="Why the hold is released.")
@click.option("--by", "released_by", default=None, help="Who releases it.")
@json_option
def hold_remove(hold_id: str, reason: str, released_by: str | None, as_json: bool) -> None:
    """Release a hold (the hold and its release both stay on record).

    On S3 it clears the legal holds it set, except on objects another active hold covers.
    """
    from kakunin import audit
    from kakunin.layout import hold_key
    from kakunin.lineage.formats import Hold
    from kakunin.retention.holds import can_hold, release_hold, unlock_released_objects
    from kakunin.storage import load, open_store

    store = open_store()
    released = release_hold(
        store, hold_id, reason=reason, released_by=released_by or audit.current_actor(), now=clock.now_utc()
    )
    cleared = None
    if can_hold(store):
        cleared = unlock_released_objects(store, load(store, hold_key(hold_id), Hold))
    if as_json:
        emit_json(released.model_dump(mode="json") | {"legal_holds_cleared": None if cleared is None else len(cleared)})
    else:
        click.echo(f"{hold_id}: released")
        if cleared is not None:
            click.echo(f"{len(cleared)} object(s) no longer under an S3 legal hold")


@hold.command("list")
@json_option
def hold_list(as_json: bool) -> None:
    """Active holds; on S3, with how many objects each keeps under a legal hold."""
    from kakunin.retention.holds import active_holds, can_hold, count_held_objects
    from kakunin.storage import open_store

    store = open_store()
    holds = active_holds(store)
    counts = [count_held_objects(store, h) for h in holds]
    if as_json:
        emit_json([h.model_dump(mode="json") | {"legal_holds": n} for h, n in zip(holds, counts, strict=True)])
        return
    header: tuple[str, ...] = ("hold", "scope", "dataset", "target", "reason", "by", "since")
    rows: list[tuple[str, ...]] = [
        (h.hold_id, h.scope, h.dataset, h.target, h.reason, h.placed_by, f"{h.placed_at:%Y-%m-%d}") for h in holds
    ]
    if can_hold(store):
        header, rows = (*header, "locked"), [(*row, str(n)) for row, n in zip(rows, counts, strict=True)]
    click.echo(render.table(header, rows) if rows else "no holds\n", nl=False)


@click.group(cls=WholeHelpGroup)
def erasure() -> None:
    """Data subjects' erasure requests (APPI Art. 35, GDPR Art. 17)."""


def _optional_dataset(command: Any) -> Any:
    """`--dataset ID`, optional here: an identifier reaches every dataset unless one is named."""
    from kakunin.cli.base import known_dataset

    return click.option(
        "--dataset",
        default=None,
        help="Only this dataset (required with --subject-key; an identifier alone reaches every dataset).",
        callback=lambda _ctx, _param, value: known_dataset(value) if value is not None else value,
    )(command)


@erasure.command("request")
@_optional_dataset
@click.option(
    "--subject-key",
    "subject_key",
    multiple=True,
    help="The provider's subject key, with --dataset (repeat for a composite key); '-' reads it from standard input.",
)
@identifier_options
@click.option("--reason", required=True, help="The request's reference or reason.")
@click.option("--now", "purge_now", is_flag=True, help="Run retention at once instead of waiting for the next run.")
@json_option
def erasure_request(
    dataset: str | None,
    subject_key: tuple[str, ...],
    email: str | None,
    phone: str | None,
    name: str | None,
    birth_date: str | None,
    reason: str,
    purge_now: bool,
    as_json: bool,
) -> None:
    """Record an erasure request (消去) by identifier or subject key, and say what it reaches.

    An identifier (--email, --phone, --name with --birth-date) reaches the person's records in
    every dataset, from every provider; the identifiers of every record reached go on the
    suppression list, so intake drops the person if they are sent again. Only keyed digests
    are stored, never what was given.
    """
    from kakunin import audit
    from kakunin.cli.subject_options import identifiers_from
    from kakunin.contracts import default_expectations_root
    from kakunin.errors import InputError
    from kakunin.keys import hmac_key_from_env
    from kakunin.retention.erasure import erase_request
    from kakunin.storage import open_store
    from kakunin.subjects.register import load_due_policy

    if "-" in subject_key and "-" in (email, phone, name, birth_date):
        raise InputError("only one option can read standard input ('-'); given: --subject-key and an identifier")
    identifiers = identifiers_from(email, phone, name, birth_date, required=not subject_key)
    parts = [sys.stdin.readline().rstrip("\n") if part == "-" else part for part in subject_key]
    request, reach = erase_request(
        open_store(),
        dataset=dataset,
        subject_key=parts or None,
        identifiers=identifiers,
        reason=reason,
        key=hmac_key_from_env(),
        requested_by=audit.current_actor(),
        now=clock.now_utc(),
        today=clock.today(),
        policy=load_due_policy(default_expectations_root()),
    )
    ctx = _retention_context(None) if purge_now else None
    certificates = run_or_busy(ctx) if ctx is not None else None
    if ctx is not None:
        tell_deferred(ctx, as_json=True)
    if as_json:
        emit_json(
            {
                "request": request.model_dump(mode="json"),
                "records": reach.records,
                "datasets": reach.datasets,
                "batches": reach.batches,
                "providers": reach.providers,
                "certificates": None if certificates is None else [c.model_dump(mode="json") for c in certificates],
            }
        )
        return
    if identifiers or dataset is None:
        click.echo(
            f"{request.request_id}: {reach.records} record(s) of this person in {len(reach.datasets)} dataset(s) "
            f"({reach.batches} batch(es), {reach.providers} provider(s))"
        )
    else:
        click.echo(f"{request.request_id}: {reach.records} record(s) of this subject in {dataset}")
    if ctx is not None and certificates is not None:
        click.echo(render.certificates_text(certificates, as_of=ctx.as_of), nl=False)
    else:
        click.echo("they are purged by the next retention run (kakunin retention run, or the kakunin_retention DAG)")

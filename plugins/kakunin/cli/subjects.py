"""`kakunin subject find|request|requests|disclose|stop-use|resume`: answering data subjects (APPI, GDPR).

A person is named by `--email`, `--phone`, or `--name` with `--birth-date` (any `-` for standard
input); only keyed digests of them reach the store or the audit log. Every action (開示,
利用停止) answers a request of the register: `--request ID`, or one registered and closed on
the spot (received today), so each has a received date and a deadline.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from kakunin import clock
from kakunin.cli.base import WholeHelpGroup, emit_json, json_option, registry
from kakunin.cli.subject_options import identifier_options, identifiers_from

_KINDS = ["disclose", "stop-use", "correct", "erase"]


@click.group(cls=WholeHelpGroup)
def subject() -> None:
    """Find a person's records and answer their requests: 開示, 利用停止 and the request register."""


def _person(email: str | None, phone: str | None, name: str | None, birth_date: str | None) -> tuple[Any, list[Any]]:
    """The store, the identifiers given (as digests), and every record of the person."""
    from kakunin.keys import hmac_key_from_env
    from kakunin.storage import open_store
    from kakunin.subjects.find import find_records
    from kakunin.subjects.formats import IdentifierDigest
    from kakunin.subjects.identifiers import subject_key

    given = identifiers_from(email, phone, name, birth_date)
    key = subject_key(hmac_key_from_env())
    digests = [IdentifierDigest(kind=i.kind, digest=i.digest(key)) for i in given]
    store = open_store()
    return store, [digests, find_records(store, {d.digest for d in digests})]


def _request_for(
    store: Any, kind: Any, request_id: str | None, digests: list[Any], records: list[Any], now: datetime
) -> Any:
    """The open request an action answers: `--request ID` (checked), else one registered now (received today)."""
    from kakunin.audit import current_actor
    from kakunin.subjects.register import load_due_policy
    from kakunin.subjects.requests import build_request, open_request, register

    if request_id is not None:
        return open_request(store, request_id, kind, today=clock.today())
    request = build_request(
        kind,
        identifiers=digests,
        records=records,
        reference=f"kakunin subject {kind.value} (registered when answered)",
        received_on=clock.today(),
        policy=load_due_policy(registry().root),
        actor=current_actor(),
        now=now,
    )
    return register(store, request)


@subject.command("find")
@identifier_options
@json_option
def subject_find(email: str | None, phone: str | None, name: str | None, birth_date: str | None, as_json: bool) -> None:
    """Every record of the person across datasets, batches and providers, with its state.

    State: live, stopped (利用停止, with the stop id), purged (消去: a purge certificate names
    it) or missing. Several identifiers find the union of their records.
    """
    from kakunin import audit
    from kakunin.lineage.formats import AuditAction

    store, (digests, records) = _person(email, phone, name, birth_date)
    audit.record(
        store,
        AuditAction.SUBJECT_FIND,
        at=clock.now_utc(),
        record_ids=[r.record_id for r in records],
        detail={"identifiers": len(digests), "records": len(records)},
    )
    if as_json:
        emit_json({"count": len(records), "records": [r.model_dump(mode="json") for r in records]})
    else:
        click.echo(find_text(records), nl=False)


def find_text(records: list[Any]) -> str:
    """The records as a table (no identifier in it: ids, providers, dates, purposes, states)."""
    if not records:
        return "no records of this person\n"
    head = ["record", "dataset", "batch", "provider", "received", "purposes", "state", "matched by"]
    rows = [
        [
            r.record_id,
            r.dataset,
            r.batch_id,
            r.provider or "-",
            str(r.received_on or "-"),
            ",".join(r.purposes) or "-",
            r.state.value + (f" ({r.stop_id})" if r.stop_id else "") + (f" ({r.purged_by})" if r.purged_by else ""),
            ",".join(r.matched_by),
        ]
        for r in records
    ]
    widths = [max(_width(line[i]) for line in [head, *rows]) for i in range(len(head))]
    lines = [
        "  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(line, widths, strict=True))
        for line in [head, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines) + f"\n{len(records)} record(s)\n"


def _width(text: str) -> int:
    """Display width: East Asian wide characters take two columns."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


@subject.command("request")
@click.argument("kind", type=click.Choice(_KINDS))
@identifier_options
@click.option("--reference", required=True, help="The request's reference (letter or ticket number; no personal data).")
@click.option(
    "--received-on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day the request arrived (YYYY-MM-DD); default today. The deadline counts from it.",
)
@json_option
def subject_request(
    kind: str,
    email: str | None,
    phone: str | None,
    name: str | None,
    birth_date: str | None,
    reference: str,
    received_on: datetime | None,
    as_json: bool,
) -> None:
    """Register a request (KIND: disclose, stop-use, correct, erase) with its deadline.

    The deadline counts from --received-on: 14 days (APPI, the company's own period) for a
    request reaching any record that is not EU-origin, GDPR's one month for one reaching only
    EU-origin records; the earliest applies (expectations/subject-requests.yaml may set others).
    """
    from kakunin.audit import current_actor
    from kakunin.subjects.formats import RequestKind
    from kakunin.subjects.register import load_due_policy
    from kakunin.subjects.requests import build_request, register

    store, (digests, records) = _person(email, phone, name, birth_date)
    request = build_request(
        RequestKind(kind),
        identifiers=digests,
        records=records,
        reference=reference,
        received_on=received_on.date() if received_on else clock.today(),
        policy=load_due_policy(registry().root),
        actor=current_actor(),
        now=clock.now_utc(),
    )
    register(store, request)
    if as_json:
        emit_json(request.model_dump(mode="json"))
    else:
        click.echo(
            f"request {request.request_id} ({request.request.value}) registered: received {request.received_on}, "
            f"due {request.due_on} ({', '.join(r.value.upper() for r in request.regimes)}); "
            f"{len(request.record_ids)} record(s)"
        )


@subject.command("requests")
@click.option("--overdue", is_flag=True, help="Only open requests past their deadline.")
@json_option
def subject_requests(overdue: bool, as_json: bool) -> None:
    """The request register: received, due, state, closed, late or overdue, records reached."""
    from kakunin import audit
    from kakunin.lineage.formats import AuditAction
    from kakunin.storage import open_store
    from kakunin.subjects.register import request_statuses
    from kakunin.subjects.requests import requests_text, status_json

    store = open_store()
    statuses = request_statuses(store, today=clock.today())
    if overdue:
        statuses = [s for s in statuses if s.overdue]
    detail: audit.Detail = {"view": "subject requests", "requests": len(statuses)}  # the register: ids, no values
    audit.record(store, AuditAction.READ, at=clock.now_utc(), detail=detail)
    if as_json:
        emit_json({"requests": [status_json(s) for s in statuses]})
    else:
        click.echo(requests_text(statuses), nl=False)


@subject.command("disclose")
@identifier_options
@click.option("--out", type=click.Path(path_type=Path), required=True, help="A new (or empty) folder to write to.")
@click.option("--request", "request_id", default=None, help="The disclose request this answers (closed when done).")
@json_option
def subject_disclose(
    email: str | None,
    phone: str | None,
    name: str | None,
    birth_date: str | None,
    out: Path,
    request_id: str | None,
    as_json: bool,
) -> None:
    """Write the person's data as held (開示): disclosure.json and a self-contained disclosure.html.

    Each record's curated row, its state and purposes, and the receipt records of its batches.
    A person of whom nothing is held gets a disclosure saying so. OUT must be new or empty.
    """
    from kakunin import audit
    from kakunin.audit import current_actor
    from kakunin.errors import InputError
    from kakunin.lineage.formats import AuditAction
    from kakunin.subjects.disclose import disclosure, write_disclosure
    from kakunin.subjects.formats import RequestKind
    from kakunin.subjects.requests import close

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out} exists and is not an empty folder: nothing written (choose a new --out)")
    store, (digests, records) = _person(email, phone, name, birth_date)
    now = clock.now_utc()
    request = _request_for(store, RequestKind.DISCLOSE, request_id, digests, records, now)
    document = disclosure(store, records, request_id=request.request_id, written_at=now)
    written = write_disclosure(out, document)
    ids = [r.record_id for r in records]
    audit.record(store, AuditAction.SUBJECT_DISCLOSE, at=now, record_ids=ids, detail={"request_id": request.request_id})
    close(store, request, outcome=f"disclosed {len(ids)} record(s)", actor=current_actor(), now=clock.now_utc())
    if as_json:
        emit_json({"request_id": request.request_id, "records": ids, "files": [str(p) for p in written]})
    else:
        click.echo(
            f"{document['summary']}\nwritten: {', '.join(str(p) for p in written)} (request {request.request_id})"
        )


@subject.command("stop-use")
@identifier_options
@click.option("--reason", required=True, help="Why use stops (no personal data), e.g. the request's ground.")
@click.option("--request", "request_id", default=None, help="The stop-use request this answers (closed when done).")
@json_option
def subject_stop_use(
    email: str | None,
    phone: str | None,
    name: str | None,
    birth_date: str | None,
    reason: str,
    request_id: str | None,
    as_json: bool,
) -> None:
    """Stop use of the person's records (利用停止) until `kakunin subject resume STOP_ID`.

    The stop lists the identifiers given, every identifier of the records found and their ids,
    so a record of the same person that arrives later is stopped too. Records stay as they are.
    """
    from kakunin.audit import current_actor
    from kakunin.subjects.formats import RequestKind
    from kakunin.subjects.requests import close
    from kakunin.subjects.stops import stop_use

    if not reason.strip():
        raise click.BadParameter("say why (no personal data)", param_hint="--reason")
    store, (digests, records) = _person(email, phone, name, birth_date)
    now = clock.now_utc()
    request = _request_for(store, RequestKind.STOP_USE, request_id, digests, records, now)
    stop = stop_use(store, digests, records, reason=reason.strip(), request_id=request.request_id, now=now)
    outcome = f"use stopped by {stop.stop_id}: {len(stop.record_ids)} record(s)"
    close(store, request, outcome=outcome, actor=current_actor(), now=clock.now_utc())
    if as_json:
        emit_json({"stop_id": stop.stop_id, "request_id": request.request_id, "records": stop.record_ids})
        return
    click.echo(f"stop {stop.stop_id} (利用停止) in force, request {request.request_id}")
    for record_id in stop.record_ids:
        click.echo(f"  {record_id}")
    if not stop.record_ids:
        click.echo("  no records of this person now; records of theirs that arrive later are stopped too")


@subject.command("resume")
@click.argument("stop_id")
@click.option("--reason", required=True, help="Why use may resume (no personal data).")
@json_option
def subject_resume(stop_id: str, reason: str, as_json: bool) -> None:
    """Lift a stop (利用停止の解除): the records it covers are in use again."""
    from kakunin.storage import open_store
    from kakunin.subjects.stops import resume_use

    if not reason.strip():
        raise click.BadParameter("say why (no personal data)", param_hint="--reason")
    stop = resume_use(open_store(), stop_id.strip(), reason=reason.strip(), now=clock.now_utc())
    if as_json:
        emit_json({"stop_id": stop.stop_id, "resumed": True, "records": stop.record_ids})
    else:
        click.echo(f"stop {stop.stop_id} lifted: {len(stop.record_ids)} record(s) in use again")

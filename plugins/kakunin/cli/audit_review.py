"""`kakunin audit review|sign-off|reviews`: the daily review of the operation log (監査) and its sign-off.

`review` writes the day's report (and exits 1 when a chain fails verification, the report
written all the same); `sign-off` records that a reviewer read it (once; never by a reviewer
with anomalies of their own that day); `reviews` lists the reports, signed, unsigned or overdue.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime, timedelta
from typing import Any

import click

from kakunin import clock
from kakunin.cli.base import EXIT_NEGATIVE, emit_json, finish, json_option, registry

REPORT_ID = re.compile(r"REV-\d{8}-[0-9a-f]{6}")


def _policy() -> Any:
    from kakunin.audit.policy import load_policy

    return load_policy(registry().root)


def review_text(report: Any) -> str:
    """The report as a reviewer reads it: the people, the anomalies, the chains."""
    lines = [
        f"audit review {report.report_id} of {report.day}: {report.entries} entries, "
        f"{len(report.people)} people, {len(report.anomalies)} anomalies; sign off by {report.sign_off_due}",
        "",
        f"{'actor':<40} {'auth':<5} {'reads':>6} {'records':>8} {'exports':>7} {'rows':>8}  other actions",
    ]
    for person in report.people:
        other = ", ".join(f"{k} {v}" for k, v in person.actions.items() if k not in {"reads", "exports"})
        lines.append(
            f"{person.actor[:40]:<40} {'yes' if person.authenticated else 'no':<5} "
            f"{person.actions.get('reads', 0):>6} {person.records_read:>8} {person.actions.get('exports', 0):>7} "
            f"{person.rows_exported:>8}  {other or '-'}"
        )
    lines.append("")
    lines.append("anomalies:" if report.anomalies else "anomalies: none")
    for anomaly in report.anomalies:
        seqs = ", ".join(str(s) for s in anomaly.entries[:10]) + (" ..." if len(anomaly.entries) > 10 else "")
        lines.append(f"  {anomaly.kind.value:<20} {anomaly.actor}: {anomaly.summary} [entries {seqs}]")
    lines.append("")
    verdict = "verified: every chain intact" if report.verified else "NOT VERIFIED: run `kakunin lineage verify`"
    lines.append(verdict)
    lines.extend(f"  {c.name:<12} {'ok' if c.ok else f'FAILED ({c.problems} problem(s))'}" for c in report.chains)
    if report.overdue_sign_offs:
        lines.append(f"overdue sign-offs: {', '.join(report.overdue_sign_offs)}")
    return "\n".join(lines) + "\n"


@click.command("review")
@click.option(
    "--day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day to review (YYYY-MM-DD); default: yesterday in the audit policy's time zone.",
)
@json_option
def audit_review(day: datetime | None, as_json: bool) -> None:
    """Review a day of the operation log (監査); exit 1 when a chain is not intact.

    Per person, the anomalies, every chain verified. The report is written to
    audit/reviews/<id>.json either way, and logged.
    """
    from kakunin.audit.review import review_day
    from kakunin.keys import hmac_key_if_set
    from kakunin.storage import open_store

    policy = _policy()
    now = clock.now_utc()
    on = day.date() if day is not None else policy.day_of(now) - timedelta(days=1)
    key = hmac_key_if_set()
    contract_for = registry().contract if key is not None else None
    report = review_day(open_store(), day=on, now=now, policy=policy, key=key, contract_for=contract_for)
    if as_json:
        emit_json(report.model_dump(mode="json"))
    else:
        click.echo(review_text(report), nl=False)
    finish(report.verified)


@click.command("sign-off")
@click.argument("report_id")
@click.option("--by", "by", required=True, help="The reviewer's user id (not the person reviewed).")
@click.option("--note", required=True, help="What the reviewer concluded (ids and counts, no personal data).")
@json_option
def audit_sign_off(report_id: str, by: str, note: str, as_json: bool) -> None:
    """Sign a review report off, once; exit 1 when refused.

    Refused when the report is already signed off, or when the reviewer has anomalies of their own that day.
    """
    from kakunin.audit.sign_off import sign_off
    from kakunin.errors import InputError
    from kakunin.storage import open_store

    if REPORT_ID.fullmatch(report_id) is None:
        raise InputError(f"{report_id!r} is not a review report id (REV-YYYYMMDD-xxxxxx; see `kakunin audit reviews`)")
    if not by.strip() or len(by) > 200:
        raise InputError("--by: give the reviewer's user id (1 to 200 characters)")
    if not note.strip() or len(note) > 2000:
        raise InputError("--note: say what you concluded (1 to 2000 characters)")
    signed = sign_off(open_store(), report_id, by=by.strip(), note=note, now=clock.now_utc())
    if as_json:
        emit_json(signed.model_dump(mode="json"))
    else:
        click.echo(f"signed off {signed.report_id} by {signed.signed_by} (report sha256 {signed.report_sha256[:16]}…)")


@click.command("reviews")
@click.option("--overdue", is_flag=True, help="Only the reports past their sign-off day and not signed off.")
@json_option
def audit_reviews(overdue: bool, as_json: bool) -> None:
    """List the review reports: signed, unsigned or overdue.

    With --overdue: only those past due, and exit 1 when there are any.
    """
    from kakunin.audit.sign_off import review_statuses
    from kakunin.storage import open_store

    policy = _policy()
    statuses = review_statuses(open_store(), today=policy.day_of(clock.now_utc()))
    shown = [s for s in statuses if s.status == "overdue"] if overdue else statuses
    if as_json:
        emit_json({"count": len(shown), "reviews": [s.model_dump(mode="json") for s in shown]})
    else:
        if not shown:
            click.echo("no review reports" + (" overdue" if overdue else ""))
        for s in shown:
            by = f" by {s.signed_by}" if s.signed_by else f" (due {s.sign_off_due})"
            by += f", LATE (due {s.sign_off_due})" if s.signed_late else ""
            verdict = "verified" if s.verified else "NOT VERIFIED"
            click.echo(f"{s.report_id}  {s.day}  {s.status:<8} {verdict}, {s.anomalies} anomalies{by}")
    if overdue and shown:
        sys.exit(EXIT_NEGATIVE)

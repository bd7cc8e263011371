"""`kakunin audit log`: the operation log (操作ログ), filtered, with who vouches for each actor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from kakunin.cli.base import WholeHelpCommand, emit_json, json_option


def log_text(found: list[Any]) -> str:
    """The entries as a table: ids, codes and counts (the log holds no personal data)."""
    from kakunin.render import table

    if not found:
        return "no audit entries match\n"
    rows = [
        (
            str(e.sequence),
            f"{e.at:%Y-%m-%d %H:%M:%S} UTC",
            f"{e.actor} ({e.actor_authenticated_by or 'self-declared'})",
            e.action,
            e.dataset or "-",
            e.batch_id or "-",
            str(len(e.record_ids)) if e.record_ids else "-",
            ", ".join(e.codes) or "-",
        )
        for e in found
    ]
    headers = ("seq", "at", "actor", "action", "dataset", "batch", "records", "codes")
    return table(headers, rows, title=f"audit log (監査ログ): {len(found)} entr{'y' if len(found) == 1 else 'ies'}")


@click.command("log", cls=WholeHelpCommand)
@click.option("--actor", default=None, help="Only this actor's entries (user id; case ignored).")
@click.option("--action", default=None, help="Only this action (e.g. read, submit, approve, export, trace).")
@click.option("--from", "from_day", type=click.DateTime(["%Y-%m-%d"]), default=None, help="From this day (inclusive).")
@click.option("--to", "to_day", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Up to this day (inclusive).")
@click.option("--dataset", default=None, help="Only entries about this dataset.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the newest N entries.")
@json_option
def audit_log(
    actor: str | None,
    action: str | None,
    from_day: datetime | None,
    to_day: datetime | None,
    dataset: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """The operation log filtered, oldest first (newest last), each actor marked `airflow` (vouched for by
    Airflow) or `self-declared` (KAKUNIN_ACTOR or the OS user). Days are in KAKUNIN_TIMEZONE.

    Exit 0; 2 on a bad filter (unknown action, --from after --to, a bad date).
    """
    from pydantic import ValidationError

    from kakunin.audit.log import LogFilter, entries, entry_json
    from kakunin.storage import open_store

    try:
        filters = LogFilter(
            actor=actor,
            action=action,
            from_day=from_day.date() if from_day else None,
            to_day=to_day.date() if to_day else None,
            dataset=dataset,
            limit=limit,
        )
    except ValidationError as exc:
        raise click.BadParameter(str(exc.errors()[0]["msg"]).removeprefix("Value error, ")) from exc
    found = entries(open_store(), filters)
    if as_json:
        emit_json({"count": len(found), "entries": [entry_json(e) for e in found]})
    else:
        click.echo(log_text(found), nl=False)

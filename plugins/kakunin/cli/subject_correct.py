"""`kakunin subject correct`: correct one curated record (訂正)."""

from __future__ import annotations

from typing import Any

import click

from kakunin.cli.base import WholeHelpCommand, emit_json, json_option, registry


@click.command("correct", cls=WholeHelpCommand)
@click.option("--record", "record_id", required=True, help="The record id (UUIDv7) to correct.")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="COLUMN=VALUE",
    help="A contract column and its corrected value, typed by the column (empty: null, where nullable). Repeatable.",
)
@click.option("--reason", required=True, help="Why (a reference such as the letter or ticket; no personal data).")
@click.option("--request", "request_id", default=None, help="The open correct request (訂正請求) this answers.")
@json_option
def correct(record_id: str, assignments: tuple[str, ...], reason: str, request_id: str | None, as_json: bool) -> None:
    """Correct a curated record (訂正, APPI Art. 34): rewrite it with the new values and record the correction.

    The lineage gains a correction (the columns changed, the record's old and new digest, the
    file's hash before and after; never the values), so `lineage verify` accepts the rewrite
    and `lineage trace` shows it. Needs KAKUNIN_HMAC_KEY. Exit 2, nothing written, for an
    unknown or purged record, a record under legal hold or a value that does not parse; 75
    while a retention run holds the lease.
    """
    from kakunin import audit, clock
    from kakunin.keys import hmac_key_from_env
    from kakunin.storage import open_store
    from kakunin.subjects.correct import correct_record

    store = open_store()
    correction, closed = correct_record(
        store,
        registry(),
        record_id=record_id.strip().lower(),
        assignments=list(assignments),
        reason=reason,
        request_id=request_id,
        hmac_key=hmac_key_from_env(),
        actor=audit.current_actor(),
        now=clock.now_utc(),
    )
    if as_json:
        emit_json({"correction": correction.model_dump(mode="json"), "request_closed": closed})
        return
    click.echo(correction_text(correction, closed), nl=False)


def correction_text(correction: Any, closed: str) -> str:
    """The correction as staff read it: what changed (names only) and where the lineage records it."""
    index = correction.subject_index
    lines = [
        f"訂正 {correction.correction_id}: record {correction.record_id} corrected",
        f"  dataset        {correction.dataset} (batch {correction.batch_id})",
        f"  columns        {', '.join(correction.columns)}",
        f"  record digest  {correction.record_digest_before} → {correction.record_digest_after}",
        f"  curated file   {correction.curated_file.key}",
        "  subject index  " + (f"rewritten with the new identifiers ({index.key})" if index else "unchanged"),
        f"  reason         {correction.reason}",
        f"  request        {closed} closed",
    ]
    return "\n".join(lines) + "\n"

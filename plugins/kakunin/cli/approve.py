"""`kakunin provenance approve BATCH_ID`: a second user approves a submitted batch (承認, 二者確認)."""

from __future__ import annotations

import click

from kakunin import clock
from kakunin.cli.base import WholeHelpCommand, emit_json, json_option


@click.command("approve", cls=WholeHelpCommand)
@click.argument("batch_id")
@click.option(
    "--note",
    default=None,
    help="One line on the approval (at most 200 characters). It goes into the audit log: no personal data.",
)
@json_option
def approve(batch_id: str, note: str | None, as_json: bool) -> None:
    """Approve the pending batch BATCH_ID as the acting user (KAKUNIN_ACTOR, else the OS user).

    The approver must be neither the user who submitted the batch nor the document's submitted_by.
    Exit 0 approved; 1 refused (four eyes, already approved, not pending; logged); 2 could not
    run (unknown batch, bad note).
    """
    from kakunin.approvals import approve as approve_batch
    from kakunin.batches import find_batch
    from kakunin.disposal import check_note
    from kakunin.storage import open_store

    if note is not None:
        try:
            note = check_note(note)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--note") from exc
    store = open_store()
    approval = approve_batch(store, find_batch(store, batch_id), note=note, now=clock.now_utc())
    if as_json:
        emit_json(approval.model_dump(mode="json"))
    else:
        by = f"{approval.approved_by} ({approval.authenticated_by or 'self-declared'})"
        click.echo(f"batch {approval.batch_id}: approved (承認) by {by}; recorded in the audit log")

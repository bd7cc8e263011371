"""`kakunin subject reindex`: the subject index's upkeep."""

from __future__ import annotations

import click

from kakunin import clock
from kakunin.cli.base import emit_json, json_option, known_dataset, registry


@click.command("reindex")
@click.option(
    "--dataset",
    default=None,
    callback=lambda _ctx, _param, value: known_dataset(value) if value is not None else value,
    help="Only this dataset's batches (default: every dataset whose contract declares identifiers).",
)
@click.option("--batch", "batch_id", default=None, help="Rebuild this one batch's index, even if it has one.")
@json_option
def subject_reindex(dataset: str | None, batch_id: str | None, as_json: bool) -> None:
    """Write the missing subject index of published batches.

    Every published batch of a dataset with identifiers that has no index file gets one, from its
    live curated records; --batch rebuilds one batch's index even if it has one.
    Batches published before the subject index cannot be found (subject find) or erased (消去) by
    their people's identifiers until this has run. Needs KAKUNIN_HMAC_KEY. A rerun changes nothing.
    """
    from kakunin import audit
    from kakunin.keys import hmac_key_from_env
    from kakunin.storage import open_store
    from kakunin.subjects.reindex import reindex

    key = hmac_key_from_env()
    report = reindex(
        open_store(),
        hmac_key=key,
        contract_for=registry().contract,
        now=clock.now_utc,
        actor=audit.current_actor(),
        dataset=dataset,
        batch_id=batch_id.strip() if batch_id else None,
    )
    if as_json:
        emit_json({"written": report.written, "batches": [b.model_dump(mode="json") for b in report.batches]})
        return
    if not report.batches:
        click.echo("every published batch with identifiers has its subject index: nothing to do")
        return
    for done in report.batches:
        click.echo(f"{done.dataset}/{done.batch_id}: {done.outcome} ({done.rows} row(s) for {done.records} record(s))")
    click.echo(f"{report.written} index file(s) written or removed; run `kakunin lineage verify` to confirm")

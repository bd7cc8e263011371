"""`kakunin intake run`: the intake DAG's steps for every pending batch, without a scheduler."""

from __future__ import annotations

import sys
from typing import Any

import click

from kakunin import render
from kakunin.cli.base import EXIT_CANNOT_RUN, CliError, WholeHelpGroup, as_of_option, day, emit_json, json_option
from kakunin.cli.progress import shown


@click.group(cls=WholeHelpGroup)
def intake() -> None:
    """Run landed batches through the intake steps (the kakunin_intake DAG, without a scheduler)."""


@intake.command("run")
@click.option("--batch", "batch_id", default=None, help="Only this batch id.")
@json_option
@as_of_option
def intake_run(batch_id: str | None, as_json: bool, as_of: Any) -> None:
    """Gate, parse, check accuracy, assign ids, publish and write lineage for every pending batch.

    Exit 0 when every batch was decided (published or rejected), 2 when one failed to run
    (it stays pending; the next run retries it). With --json, `decision` is one of
    published, rejected, busy, failed; `stage` says where a rejection happened.
    """
    from kakunin.intake.context import IntakeContext
    from kakunin.intake.run import run_intake

    ctx = IntakeContext.from_env(today=day(as_of))
    with shown("kakunin intake run") as progress:
        results = run_intake(ctx, batch_id=batch_id, progress=progress)
    if batch_id is not None and not results:
        raise CliError(f"batch {batch_id} is not pending in landing/", code="not_pending")
    if as_json:
        emit_json([result_json(r) for r in results])
    else:
        click.echo(render.intake_text(results), nl=False)
    failed = [r for r in results if r.decision == "failed"]
    for result in failed:
        click.echo(f"error: {result.batch}: {result.error} (it stays pending; the next run retries it)", err=True)
    if failed:
        sys.exit(EXIT_CANNOT_RUN)


def result_json(result: Any) -> dict[str, Any]:
    """A batch result with `decision` as a value a script can compare (`rejected (parse)` → rejected + stage)."""
    payload: dict[str, Any] = result.model_dump(mode="json")
    word, _, rest = result.decision.partition(" (")
    payload["decision"] = word.replace(" ", "_")  # `awaiting_approval` (承認待ち), else one word
    payload["stage"] = rest.rstrip(")") if word == "rejected" and rest else None
    payload["decision_text"] = result.decision
    return payload

"""`kakunin provenance check|submit` and `kakunin batches`: the gate, as staff and reviewers use it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from kakunin import clock, render
from kakunin.cli.base import (
    WholeHelpCommand,
    WholeHelpGroup,
    as_of_option,
    day,
    emit_json,
    finish,
    json_option,
    registry,
)


@click.group(cls=WholeHelpGroup)
def provenance() -> None:
    """Check and submit batches against their provenance document (kakunin.provenance/v1)."""


@provenance.command("check")
@click.argument("path", type=click.Path(path_type=Path))
@json_option
@as_of_option
def provenance_check(path: Path, as_json: bool, as_of: Any) -> None:
    """Check the batch folder or document at PATH; exit 0 accepted, 1 rejected, 2 could not run."""
    from kakunin.provenance.document import check_path

    verdict = check_path(path, registry=registry(), today=day(as_of))
    if as_json:
        emit_json(verdict.model_dump(mode="json"))
    else:
        click.echo(render.verdict_text(verdict), nl=False)
    finish(verdict.accepted)


@provenance.command("submit")
@click.argument("batch_dir", type=click.Path(path_type=Path))
@json_option
@as_of_option
def provenance_submit(batch_dir: Path, as_json: bool, as_of: Any) -> None:
    """Check BATCH_DIR and, if accepted, copy it into landing/ and print its batch id."""
    from kakunin.batches import submit_batch
    from kakunin.storage import open_store

    result = submit_batch(batch_dir, store=open_store(), registry=registry(), today=day(as_of), now=clock.now_utc())
    if as_json:
        emit_json(result.model_dump(mode="json"))
    else:
        click.echo(render.submit_text(result), nl=False)
    finish(result.landed)


@click.command("batches", cls=WholeHelpCommand)
@json_option
def batches(as_json: bool) -> None:
    """List every batch with its dataset, document id, state (pending, rejected, published, partly purged,
    purged) and reason codes."""
    from kakunin.batches import list_batches
    from kakunin.storage import open_store

    found = list_batches(open_store())
    if as_json:
        emit_json([b.model_dump(mode="json") for b in found])
    else:
        click.echo(render.batches_text(found), nl=False)

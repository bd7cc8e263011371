"""`kakunin demo seed|report`: the sample run behind `make run`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import click

from kakunin import clock, render
from kakunin.cli.base import EXIT_NEGATIVE, WholeHelpGroup, as_of_option, day, emit_json, finish, json_option, registry
from kakunin.cli.lineage import anchor_options, anchors
from kakunin.cli.progress import shown
from kakunin.errors import KakuninError


@click.group(cls=WholeHelpGroup)
def demo() -> None:
    """The sample run behind `make run`: seed sample batches, then report what intake did."""


def _dev_tools() -> Any:
    try:
        from kakunin_dev import samples, samples_v2  # dev-only: not part of the runtime package
    except ModuleNotFoundError as exc:
        if exc.name != "kakunin_dev":
            raise
        raise KakuninError("the demo needs the dev tools (kakunin_dev): run `make install` in a checkout") from exc
    return samples.write_samples, samples_v2.write_demo_expectations


@demo.command("seed")
@click.option("--rows", default=40, show_default=True, type=click.IntRange(1, 100_000), help="Rows per sample batch.")
@as_of_option
@json_option
def demo_seed(rows: int, as_of: Any, as_json: bool) -> None:
    """Write the sample batches into $KAKUNIN_HOME/samples, submit each, and print the gate's decisions.

    The gate judges them against a copy of the expectations whose deny list names the demo's
    list broker (名簿業者), $KAKUNIN_HOME/expectations; the shipped deny list stays empty.
    """
    from kakunin.batches import submit_batch
    from kakunin.contracts import Registry
    from kakunin.storage import open_store

    write_samples, write_demo_expectations = _dev_tools()
    home = Path(os.environ.get("KAKUNIN_HOME") or "var")
    store, today = open_store(), day(as_of)
    reg = Registry(write_demo_expectations(registry().root, home / "expectations"))
    samples_root = home / "samples"
    shutil.rmtree(samples_root, ignore_errors=True)
    outcomes = []
    with shown("kakunin demo seed") as progress:
        samples = write_samples(samples_root, today=today, rows=rows, progress=progress)
        for number, sample in enumerate(samples, start=1):
            result = submit_batch(sample.path, store=store, registry=reg, today=today, now=clock.now_utc())
            outcomes.append(_outcome(sample, result))
            progress(len(samples) + number, 2 * len(samples), f"submitted {sample.name}")
    surprises = sum(not o["as_expected"] for o in outcomes)
    landed = sum(o["landed_as"] is not None for o in outcomes)
    if as_json:
        emit_json({"samples": outcomes, "landed": landed, "rejected": len(outcomes) - landed, "surprises": surprises})
    else:
        _print_seed_table(outcomes, store)
    if surprises:
        click.echo(f"error: {surprises} sample(s) did not get their expected decision", err=True)
        raise SystemExit(EXIT_NEGATIVE)


def _outcome(sample: Any, result: Any) -> dict[str, Any]:
    codes = list(dict.fromkeys(f.code.value for f in result.verdict.findings))
    expected = [code.value for code in sample.codes]
    as_expected = sample.at_intake or (not expected and not codes) or (bool(expected) and set(expected) <= set(codes))
    return {
        "sample": sample.name,
        "encoding": sample.encoding,
        "expected": ", ".join(expected) or None,
        "expected_codes": expected,  # every code the sample must fire (the 名簿業者 resale: two)
        "gate": result.verdict.decision,
        "codes": codes,
        "landed_as": result.batch_id if result.landed else None,
        "as_expected": bool(as_expected),
    }


def _print_seed_table(outcomes: list[dict[str, Any]], store: Any) -> None:
    rows = [
        (
            o["sample"],
            o["encoding"],
            o["expected"] or "-",
            o["gate"],
            ", ".join(o["codes"]) or "-",
            o["landed_as"] or "-",
            "yes" if o["as_expected"] else "NO",
        )
        for o in outcomes
    ]
    headers = ("sample", "encoding", "expected", "gate", "codes", "landed as", "as expected")
    click.echo(render.table(headers, rows, title=f"Provenance gate decisions ({len(outcomes)} sample batches)"))
    landed = sum(o["landed_as"] is not None for o in outcomes)
    click.echo(f"{landed} landed, {len(outcomes) - landed} rejected; store: {store.describe()}")


@demo.command("people")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Folder to write the batches in.")
@as_of_option
@json_option
def demo_people(out: Path, as_of: Any, as_json: bool) -> None:
    """Write the data-subject scene's batches: one person (花子) from two providers, then re-sent after erasure.

    Prints each batch folder; `make run` submits them with `kakunin provenance submit`.
    """
    try:
        from kakunin_dev.people import write_person_batches
    except ModuleNotFoundError as exc:
        raise KakuninError("the demo needs the dev tools (kakunin_dev): run `make install` in a checkout") from exc
    if out.exists() and any(out.iterdir()):
        raise KakuninError(f"{out} exists and is not empty; choose a new folder")
    written = write_person_batches(out, today=day(as_of))
    if as_json:
        emit_json({name: str(path) for name, path in written.items()})
        return
    for name, path in written.items():
        click.echo(f"{name}: {path}")


@demo.command("report")
@anchor_options
@json_option
def demo_report(checkpoints: tuple[Path, ...], public_key_file: Path | None, against_log: bool, as_json: bool) -> None:
    """After intake: every batch with its outcome, one record traced, and the verify verdict."""
    from kakunin.batches import list_batches
    from kakunin.keys import hmac_key_from_env
    from kakunin.lineage.chain import closed_certificates
    from kakunin.lineage.trace import first_purged_id, first_record_id, text_of, trace, trace_json
    from kakunin.lineage.verify import verify
    from kakunin.storage import open_store

    anchored = anchors(checkpoints, public_key_file, against_log)
    store, key, contract_for = open_store(), hmac_key_from_env(), registry().contract
    found = list_batches(store)
    certificates = closed_certificates(store)
    purged_id = first_purged_id(store, certificates[-1]) if certificates else None
    purged = trace(store, purged_id, hmac_key=key, contract_for=contract_for) if purged_id else None
    record_id = first_record_id(store)
    story = trace(store, record_id, hmac_key=key, contract_for=contract_for) if record_id else None
    with shown("kakunin lineage verify") as progress:
        report = verify(
            store, today=clock.today(), key=key, anchors=anchored, contract_for=contract_for, progress=progress
        )
    if as_json:
        emit_json(
            {
                "batches": [b.model_dump(mode="json") for b in found],
                "certificates": [c.model_dump(mode="json") for c in certificates],
                "purged_record": trace_json(purged) if purged else None,
                "published_record": trace_json(story) if story else None,
                "verify": report.model_dump(mode="json"),
            }
        )
        finish(report.intact)
    click.echo(render.batches_text(found))
    if certificates:
        click.echo("Retention (kakunin_retention):")
        click.echo(render.certificates_text(certificates, as_of=certificates[-1].as_of))
        if purged is not None:
            click.echo("One purged record, traced:")
            click.echo(text_of(purged))
    if story is not None:
        click.echo("One published record, traced (kakunin lineage trace):")
        click.echo(text_of(story))
    flags = "".join(f" --checkpoint {path}" for path in checkpoints) + (" --against-log" if against_log else "")
    click.echo(f"Lineage (kakunin lineage verify{flags}):")
    click.echo(render.verify_text(report), nl=False)
    finish(report.intact)

"""The `kakunin` command. It imports no Airflow and no Great Expectations on its paths.

Exit codes: 0 success (accepted, intact), 1 a negative verdict (rejected, tampered),
2 could not run (bad arguments, unreadable path, broken configuration). A known
error prints `error: message` on stderr; nothing reaches a user as a traceback unless
`KAKUNIN_DEBUG=1`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import traceback
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import click

from kakunin import clock, render
from kakunin.errors import KakuninError

EXIT_OK, EXIT_NEGATIVE, EXIT_CANNOT_RUN = 0, 1, 2


def _registry() -> Any:
    from kakunin.contracts import Registry, default_expectations_root

    return Registry(default_expectations_root())


def _emit_json(payload: Any) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False, indent=2))


def _as_of_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--as-of",
        "as_of",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        help="Judge dates as of this day (YYYY-MM-DD) instead of today in KAKUNIN_TIMEZONE.",
    )(command)


def _day(as_of: Any) -> date:
    return as_of.date() if as_of is not None else clock.today()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Kakunin (確認): take in third-party personal data only when its lawful acquisition is documented."""


@cli.group()
def provenance() -> None:
    """Check and submit batches against their provenance document (kakunin.provenance/v1)."""


@provenance.command("check")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@_as_of_option
def provenance_check(path: Path, as_json: bool, as_of: Any) -> None:
    """Check the batch folder or document at PATH; exit 0 accepted, 1 rejected, 2 could not run."""
    from kakunin.provenance.document import check_path

    verdict = check_path(path, registry=_registry(), today=_day(as_of))
    if as_json:
        _emit_json(verdict.model_dump(mode="json"))
    else:
        click.echo(render.verdict_text(verdict), nl=False)
    sys.exit(EXIT_OK if verdict.accepted else EXIT_NEGATIVE)


@provenance.command("submit")
@click.argument("batch_dir", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_as_of_option
def provenance_submit(batch_dir: Path, as_json: bool, as_of: Any) -> None:
    """Check BATCH_DIR and, if accepted, copy it into landing/ and print its batch id."""
    from kakunin.batches import submit_batch
    from kakunin.storage import open_store

    result = submit_batch(batch_dir, store=open_store(), registry=_registry(), today=_day(as_of), now=clock.now_utc())
    if as_json:
        _emit_json(result.model_dump(mode="json"))
    else:
        click.echo(render.submit_text(result), nl=False)
    sys.exit(EXIT_OK if result.landed else EXIT_NEGATIVE)


@cli.command("batches")
@click.option("--json", "as_json", is_flag=True, help="Print the batches as JSON.")
def batches(as_json: bool) -> None:
    """List every batch with its dataset, document id, state and reason codes."""
    from kakunin.batches import list_batches
    from kakunin.storage import open_store

    found = list_batches(open_store())
    if as_json:
        _emit_json([b.model_dump(mode="json") for b in found])
    else:
        click.echo(render.batches_text(found), nl=False)


@cli.command("demo")
@click.option("--rows", default=40, show_default=True, type=click.IntRange(1, 100_000), help="Rows per sample batch.")
@_as_of_option
def demo(rows: int, as_of: Any) -> None:
    """Write the sample batches into $KAKUNIN_HOME/samples, submit each, and print the decisions."""
    from kakunin.batches import submit_batch
    from kakunin.samples import write_samples
    from kakunin.storage import open_store

    store, registry, today = open_store(), _registry(), _day(as_of)
    samples_root = Path(os.environ.get("KAKUNIN_HOME") or "var") / "samples"
    shutil.rmtree(samples_root, ignore_errors=True)
    samples = write_samples(samples_root, today=today, rows=rows)
    table_rows, surprises = [], 0
    for sample in samples:
        result = submit_batch(sample.path, store=store, registry=registry, today=today, now=clock.now_utc())
        codes = [f.code.value for f in result.verdict.findings]
        expected = sample.expected.value if sample.expected else "-"
        as_expected = (sample.expected is None and not codes) or (
            sample.expected is not None and sample.expected.value in codes
        )
        surprises += not as_expected
        table_rows.append(
            (
                sample.name,
                sample.encoding,
                expected,
                result.verdict.decision,
                ", ".join(dict.fromkeys(codes)) or "-",
                result.batch_id if result.landed else "-",
                "yes" if as_expected else "NO",
            )
        )
    headers = ("sample", "encoding", "expected", "decision", "codes", "landed as", "as expected")
    click.echo(render.table(headers, table_rows, title=f"Provenance gate decisions ({len(samples)} sample batches)"))
    landed = sum(1 for row in table_rows if row[5] != "-")
    click.echo(f"{landed} landed, {len(samples) - landed} rejected; store: {store.describe()}")
    if surprises:
        click.echo(f"error: {surprises} sample(s) did not get their expected decision", err=True)
        sys.exit(EXIT_NEGATIVE)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn every known error into `error: ...` and exit 2."""
    try:
        cli.main(args=argv, prog_name="kakunin", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_CANNOT_RUN)
    except KakuninError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_CANNOT_RUN)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence against a traceback
        if os.environ.get("KAKUNIN_DEBUG") == "1":
            traceback.print_exc()
        click.echo(f"error: unexpected {type(exc).__name__}: {exc} (set KAKUNIN_DEBUG=1 for details)", err=True)
        sys.exit(EXIT_CANNOT_RUN)


if __name__ == "__main__":
    main()

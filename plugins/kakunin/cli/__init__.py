"""The `kakunin` command. It imports no Airflow and no Great Expectations on its paths.

One module per command group: `provenance` (check, submit, approve, upgrade, draft, dispose, batches),
`intake`, `lineage` (trace, verify, checkpoint, keygen), `retention` (retention run, hold, erasure), `demo`,
`subjects` (subject find, request, requests, disclose, stop-use, resume), `audit` (review, sign-off, reviews,
report, log), `exports` (export, exports).

Exit codes: 0 success (accepted, intact), 1 a negative verdict (rejected, tampered, not
intact), 2 could not run (bad arguments, unreadable path, broken configuration), 75 busy:
another retention run holds the lease, nothing was done, try again later (EX_TEMPFAIL of
sysexits.h, which schedulers and shell loops read as "retry"). 130 interrupted.

A known error prints `error: message` on stderr. Under `--json` it prints instead, on
stdout, `{"error": {"code": CODE, "message": MESSAGE}}` with the same exit code. Codes:

    usage            bad arguments or options (click's usage errors)                      2
    unknown_dataset  --dataset names no registered contract                               2
    input            a path or file given cannot be used                                  2
    config           a contract, the purpose register or an environment variable is wrong 2
    storage          the store refused an operation                                       2
    not_found        the object is not in the store                                       2
    not_pending      `intake run --batch` names no pending batch                          2
    lease            a lease was lost mid-run                                             2
    busy             another run holds the lease; nothing was done                        75
    not_intact       `lineage checkpoint`: the lineage is not intact, nothing signed      1
    not_disposable   `provenance dispose`: the batch is not rejected, or already disposed 1
    refused          `export`: the purpose, a column or a take-out limit refuses it       1
    not_approvable   `provenance approve`: four eyes, already approved, or not pending    1
    error            any other known error                                                2
    unexpected       a defect (a bug): please report it with KAKUNIN_DEBUG=1 output       2
    interrupted      Ctrl-C                                                               130

Nothing reaches a user as a traceback unless `KAKUNIN_DEBUG=1`.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import NoReturn

import click

from kakunin.cli.approve import approve
from kakunin.cli.audit import audit
from kakunin.cli.audit_log import audit_log
from kakunin.cli.audit_report import audit_report
from kakunin.cli.audit_review import audit_review, audit_reviews, audit_sign_off
from kakunin.cli.base import EXIT_BUSY, EXIT_CANNOT_RUN, WholeHelpGroup
from kakunin.cli.demo import demo
from kakunin.cli.exports import export, exports
from kakunin.cli.infra import infra
from kakunin.cli.intake import intake
from kakunin.cli.lineage import lineage
from kakunin.cli.provenance import batches, provenance
from kakunin.cli.retention import erasure, hold, retention
from kakunin.cli.subject_admin import subject_reindex
from kakunin.cli.subject_correct import correct as subject_correct
from kakunin.cli.subjects import subject
from kakunin.errors import KakuninError
from kakunin.yaml_io import json_text

EXIT_INTERRUPTED = 130

__all__ = ["cli", "main"]


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import PackageNotFoundError, version

    from kakunin.version import code_version

    try:
        package = version("kakunin")
    except PackageNotFoundError:
        package = "(not installed)"
    click.echo(f"kakunin {package}\ncode: {code_version()}")
    ctx.exit(0)


@click.group(cls=WholeHelpGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Print kakunin's version and the code version manifests record, then exit.",
)
def cli() -> None:
    """Kakunin (確認): take in third-party personal data only when its lawful acquisition is documented.

    Every command that reports something takes --json. Exit codes: 0 success, 1 a negative
    verdict (rejected, not intact), 2 could not run, 75 busy (retry later).
    """


for _command in (provenance, batches, intake, lineage, retention, hold, erasure, demo, infra, subject, audit):
    cli.add_command(_command)
subject.add_command(subject_correct, "correct")
subject.add_command(subject_reindex, "reindex")
audit.add_command(audit_report, "report")
for _audit_command in (audit_review, audit_sign_off, audit_reviews):
    audit.add_command(_audit_command)
cli.add_command(export)  # 持ち出し: a top-level verb
cli.add_command(exports)
provenance.add_command(approve)
audit.add_command(audit_log)


def _fail(code: str, message: str, exit_code: int, *, as_json: bool) -> NoReturn:
    """Report an error as `error: message` on stderr, or as one JSON object on stdout under --json."""
    if as_json:
        click.echo(json_text({"error": {"code": code, "message": message}}))
    else:
        click.echo(f"error: {message}", err=True)
    sys.exit(exit_code)


def _wants_json(argv: list[str]) -> bool:
    return "--json" in argv[: argv.index("--")] if "--" in argv else "--json" in argv


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn every error into `error: ...` (or JSON) and its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = _wants_json(args)
    try:
        cli.main(args=args, prog_name="kakunin", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.exceptions.Abort:
        _fail("interrupted", "aborted", EXIT_INTERRUPTED, as_json=as_json)
    except click.ClickException as exc:
        if as_json:
            _fail("usage", exc.format_message(), EXIT_CANNOT_RUN, as_json=True)
        exc.show()
        sys.exit(EXIT_CANNOT_RUN)
    except KakuninError as exc:
        code = str(getattr(exc, "code", "error"))
        exit_code = getattr(exc, "exit_code", EXIT_BUSY if code == "busy" else EXIT_CANNOT_RUN)
        _fail(code, str(exc), exit_code, as_json=as_json)
    except KeyboardInterrupt:
        _fail("interrupted", "interrupted", EXIT_INTERRUPTED, as_json=as_json)
    except Exception as exc:  # noqa: BLE001 - the last line of defence against a traceback
        if os.environ.get("KAKUNIN_DEBUG") == "1":
            traceback.print_exc()
        message = f"unexpected {type(exc).__name__}: {exc} (set KAKUNIN_DEBUG=1 for details)"
        _fail("unexpected", message, EXIT_CANNOT_RUN, as_json=as_json)

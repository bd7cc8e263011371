"""The `kakunin` command. It imports no Airflow and no Great Expectations on its paths.

One module per command group: `provenance` (check, submit, approve, upgrade, draft, dispose, batches),
`intake`, `lineage` (trace, verify, checkpoint, keygen), `retention` (retention run, hold, erasure), `demo`,
`subjects` (subject find, request, requests, disclose, stop-use, resume), `audit` (review, sign-off, reviews,
report, log), `exports` (export, exports). Each is imported only when one of its commands runs
(`COMMANDS`), so a command starts without loading the others.

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

from kakunin.cli.base import EXIT_BUSY, EXIT_CANNOT_RUN, LazyGroup
from kakunin.errors import KakuninError
from kakunin.yaml_io import json_text

EXIT_INTERRUPTED = 130

__all__ = ["ATTACHED", "COMMANDS", "cli", "main"]

# Every top-level command: name → ("module:attribute", its short help as `kakunin --help` lists it).
# Commands are imported only when run, so `kakunin lineage trace` does not load the demo, the
# renderers or the provenance models (measured: 0.4 s of a 1.7 s trace). tests/test_cli_help.py checks
# that each short help here is the command's own.
COMMANDS: dict[str, tuple[str, str]] = {
    "audit": (
        "kakunin.cli.audit:audit",
        "Review the operation log (監査): the daily review and its sign-off, the log itself, the evidence pack.",
    ),
    "batches": (
        "kakunin.cli.provenance:batches",
        "List every batch with its dataset, document id, state (pending, rejected, published, partly purged, purged), "
        "reason codes and, for a rejected batch, how its outside copies were disposed of.",
    ),
    "demo": (
        "kakunin.cli.demo:demo",
        "The sample run behind `make run`: seed sample batches, then report what intake did.",
    ),
    "erasure": ("kakunin.cli.retention:erasure", "Data subjects' erasure requests (APPI Art. 35, GDPR Art. 17)."),
    "export": (
        "kakunin.cli.exports:export",
        "Export a dataset's records for one purpose (持ち出し): only its columns, within the limits of the policy.",
    ),
    "exports": (
        "kakunin.cli.exports:exports",
        "The export register (持ち出し台帳): every export, who asked and who ran it, and whether it is still held.",
    ),
    "hold": (
        "kakunin.cli.retention:hold",
        "Legal holds: records under a hold are never purged while it stands.",
    ),
    "infra": ("kakunin.cli.infra:infra", "Prepare S3 for Kakunin: buckets, encryption, Object Lock and policies."),
    "intake": (
        "kakunin.cli.intake:intake",
        "Run landed batches through the intake steps (the kakunin_intake DAG, without a scheduler).",
    ),
    "lineage": (
        "kakunin.cli.lineage:lineage",
        "Trace a record's story and verify that the lineage is intact (for auditors).",
    ),
    "provenance": (
        "kakunin.cli.provenance:provenance",
        "Check and submit batches against their provenance document (kakunin.provenance/v1 and /v2).",
    ),
    "retention": (
        "kakunin.cli.retention:retention",
        "Purge what is past its retention (APPI Art. 22), keep what is held, certify both.",
    ),
    "subject": (
        "kakunin.cli.subjects:subject",
        "Find a person's records and answer their requests: 開示, 利用停止 and the request register.",
    ),
}

# Commands of other modules added to a group when the group is loaded.
ATTACHED: dict[str, dict[str, str]] = {
    "provenance": {"approve": "kakunin.cli.approve:approve"},
    "subject": {
        "correct": "kakunin.cli.subject_correct:correct",
        "reindex": "kakunin.cli.subject_admin:subject_reindex",
    },
    "audit": {
        "report": "kakunin.cli.audit_report:audit_report",
        "review": "kakunin.cli.audit_review:audit_review",
        "sign-off": "kakunin.cli.audit_review:audit_sign_off",
        "reviews": "kakunin.cli.audit_review:audit_reviews",
        "log": "kakunin.cli.audit_log:audit_log",
    },
}


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


@click.group(cls=LazyGroup, lazy=COMMANDS, attach=ATTACHED, context_settings={"help_option_names": ["-h", "--help"]})
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

"""The `kakunin` command. It imports no Airflow and no Great Expectations on its paths.

Exit codes: 0 success (accepted, intact), 1 a negative verdict (rejected, tampered),
2 could not run (bad arguments, unreadable path, broken configuration), 75 busy: another
retention run holds the lease, nothing was done, try again later (EX_TEMPFAIL of
sysexits.h, which schedulers and shell loops read as "retry"). A known
error prints `error: message` on stderr; nothing reaches a user as a traceback unless
`KAKUNIN_DEBUG=1`.
"""

from __future__ import annotations

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
from kakunin.yaml_io import json_text

EXIT_OK, EXIT_NEGATIVE, EXIT_CANNOT_RUN, EXIT_BUSY = 0, 1, 2, 75


def _registry() -> Any:
    from kakunin.contracts import Registry, default_expectations_root

    return Registry(default_expectations_root())


def _emit_json(payload: Any) -> None:
    click.echo(json_text(payload))


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


@cli.group()
def intake() -> None:
    """Run landed batches through the intake steps (the kakunin_intake DAG, without a scheduler)."""


@intake.command("run")
@click.option("--batch", "batch_id", default=None, help="Only this batch id.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@_as_of_option
def intake_run(batch_id: str | None, as_json: bool, as_of: Any) -> None:
    """Gate, parse, check accuracy, assign ids, publish and write lineage for every pending batch."""
    from kakunin.intake.run import results_json, run_intake

    results = run_intake(_intake_context(as_of), batch_id=batch_id)
    if as_json:
        click.echo(results_json(results))
    else:
        click.echo(render.intake_text(results), nl=False)
    if batch_id is not None and not results:
        raise KakuninError(f"batch {batch_id} is not pending in landing/")
    failed = [r for r in results if r.decision == "failed"]
    for result in failed:
        click.echo(f"error: {result.batch}: {result.error} (it stays pending; the next run retries it)", err=True)
    if failed:
        sys.exit(EXIT_CANNOT_RUN)


def _intake_context(as_of: Any) -> Any:
    from kakunin.intake.context import IntakeContext

    return IntakeContext.from_env(today=_day(as_of))


@cli.group()
def lineage() -> None:
    """Trace a record's story and verify that the lineage is intact (for auditors)."""


@lineage.command("trace")
@click.argument("record_id")
@click.option("--json", "as_json", is_flag=True, help="Print the trace as JSON.")
def lineage_trace(record_id: str, as_json: bool) -> None:
    """Where RECORD_ID came from, under which purposes and ground, until when, and where it is now."""
    from kakunin import audit
    from kakunin.keys import ENV_VAR, parse_hmac_key
    from kakunin.lineage.formats import AuditAction
    from kakunin.lineage.trace import text_of, trace
    from kakunin.storage import open_store

    store = open_store()
    key = parse_hmac_key(os.environ[ENV_VAR]) if os.environ.get(ENV_VAR) else None
    found = trace(store, record_id.strip().lower(), hmac_key=key, contract_for=_registry().contract)
    audit.record(store, AuditAction.TRACE, at=clock.now_utc(), dataset=found.dataset, record_ids=[found.record_id])
    if as_json:
        _emit_json(found.model_dump(mode="json"))
    else:
        click.echo(text_of(found), nl=False)


def _anchor_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--checkpoint`, `--public-key`, `--against-log`: what verify checks the chain tails against."""
    for option in reversed(
        [
            click.option(
                "--checkpoint",
                "checkpoints",
                multiple=True,
                type=click.Path(path_type=Path),
                help="A signed checkpoint kept outside the store (`kakunin lineage checkpoint --out`); repeatable.",
            ),
            click.option(
                "--public-key",
                "public_key_file",
                type=click.Path(path_type=Path),
                default=None,
                help="The signer's public key (64 hex characters); else KAKUNIN_VERIFY_KEY.",
            ),
            click.option(
                "--against-log", is_flag=True, help="Also check every checkpoint in the store's own checkpoint log."
            ),
        ]
    ):
        command = option(command)
    return command


def _anchors(checkpoints: tuple[Path, ...], public_key_file: Path | None, against_log: bool) -> Any:
    """The anchors to verify against, read and checked before anything runs; None for none."""
    from kakunin.errors import InputError
    from kakunin.lineage.checkpoint import Anchors, read_checkpoint_file
    from kakunin.lineage.signing import VERIFY_ENV, parse_public_key

    if not checkpoints and not against_log:
        if public_key_file is not None:
            raise InputError("--public-key needs --checkpoint FILE or --against-log")
        return None
    public_key = None
    if public_key_file is not None:
        try:
            text = public_key_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read public key {public_key_file}: {exc}") from exc
        public_key = parse_public_key(text, what=f"public key {public_key_file}")
    elif os.environ.get(VERIFY_ENV):
        public_key = parse_public_key(os.environ[VERIFY_ENV], what=VERIFY_ENV)
    if checkpoints and public_key is None:
        raise InputError(
            f"a checkpoint is checked against its signer's public key: pass --public-key FILE or set {VERIFY_ENV}"
        )
    loaded = [(str(path), read_checkpoint_file(path)) for path in checkpoints]
    return Anchors(checkpoints=loaded, public_key=public_key, against_log=against_log)


@lineage.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@_anchor_options
@click.option("--keyless", is_flag=True, help="Check hashes only, even with KAKUNIN_HMAC_KEY set (no seals).")
@click.option(
    "--allow-legacy",
    "allow_legacy",
    is_flag=True,
    help="Keyed: accept each chain's unsealed entries before its first sealed one (a store older than seals).",
)
def lineage_verify(
    as_json: bool,
    checkpoints: tuple[Path, ...],
    public_key_file: Path | None,
    against_log: bool,
    keyless: bool,
    allow_legacy: bool,
) -> None:
    """Check every chain, file hash and record; with KAKUNIN_HMAC_KEY every seal; with checkpoints the
    chain tails. Exit 0 intact, 1 not."""
    from kakunin import audit
    from kakunin.keys import hmac_key_if_set
    from kakunin.lineage.formats import AuditAction
    from kakunin.lineage.verify import verify
    from kakunin.storage import open_store

    anchors = _anchors(checkpoints, public_key_file, against_log)
    store = open_store()
    key = None if keyless else hmac_key_if_set()
    contract_for = _registry().contract if key is not None else None
    report = verify(
        store, today=clock.today(), key=key, allow_legacy=allow_legacy, anchors=anchors, contract_for=contract_for
    )
    if as_json:
        _emit_json(report.model_dump(mode="json"))
    else:
        click.echo(render.verify_text(report), nl=False)
    audit.record(
        store,
        AuditAction.VERIFY,
        at=clock.now_utc(),
        detail={
            "intact": report.intact,
            "problems": len(report.problems),
            "manifests": report.manifests,
            "mode": report.mode,
        },
    )
    sys.exit(EXIT_OK if report.intact else EXIT_NEGATIVE)


@lineage.command("checkpoint")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write the checkpoint to FILE, outside the store (the auditor's copy); never overwrites.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the checkpoint as JSON.")
def lineage_checkpoint(out: Path | None, as_json: bool) -> None:
    """Sign the heads and counts of every chain (KAKUNIN_SIGNING_KEY); exit 1 if the lineage is not intact."""
    from kakunin.errors import InputError
    from kakunin.keys import hmac_key_if_set
    from kakunin.lineage.checkpoint import summary_line, take_checkpoint
    from kakunin.lineage.signing import require_signing_key
    from kakunin.lineage.verify import verify
    from kakunin.storage import open_store

    key = require_signing_key()
    if out is not None and out.exists():
        raise InputError(f"{out} exists: a checkpoint is kept, not replaced (choose a new file name)")
    store = open_store()
    hmac_key = hmac_key_if_set()  # keyed when it can be: a re-hashed forgery must not be signed
    contract_for = _registry().contract if hmac_key is not None else None
    report = verify(store, today=clock.today(), key=hmac_key, contract_for=contract_for)
    if not report.intact:
        click.echo("not signed: a checkpoint vouches only for an intact lineage", err=True)
        click.echo(render.verify_text(report), nl=False, err=True)
        sys.exit(EXIT_NEGATIVE)
    checkpoint = take_checkpoint(store, key, now=clock.now_utc())
    if out is not None:
        try:
            with out.open("xb") as handle:
                handle.write(checkpoint.entry_bytes())
        except OSError as exc:
            raise InputError(
                f"cannot write {out}: {exc.strerror or exc} (the checkpoint is in the store's log)"
            ) from exc
    if as_json:
        _emit_json(checkpoint.model_dump(mode="json"))
    else:
        click.echo(summary_line(checkpoint))
        if out is not None:
            click.echo(f"written to {out}: keep it outside the store (the auditor, WORM storage)")


@lineage.command("keygen")
@click.option(
    "--public-key-out",
    type=click.Path(path_type=Path),
    required=True,
    help="Write the public key here (64 hex characters) for the auditor; never overwrites.",
)
def lineage_keygen(public_key_out: Path) -> None:
    """Make an Ed25519 checkpoint signing key: the private key (hex) on stdout, once; the public key to a file."""
    from kakunin.errors import InputError
    from kakunin.lineage.signing import SIGNING_ENV, new_signing_key, private_hex, public_hex, public_key_id

    key = new_signing_key()
    try:
        with public_key_out.open("x", encoding="utf-8") as handle:
            handle.write(public_hex(key.public_key()) + "\n")
    except FileExistsError as exc:
        raise InputError(f"{public_key_out} exists: not replacing a public key an auditor may hold") from exc
    except OSError as exc:
        raise InputError(f"cannot write {public_key_out}: {exc.strerror or exc}") from exc
    click.echo(private_hex(key))
    click.echo(
        f"note: the line above is the private signing key (key id {public_key_id(key.public_key())}), shown once; "
        f"keep it in a secret store and pass it as {SIGNING_ENV}, never in the store",
        err=True,
    )


@cli.group()
def retention() -> None:
    """Purge what is past its retention (APPI Art. 22), keep what is held, certify both."""


def _retention_context(as_of: Any, *, future_as_of: bool = False) -> Any:
    from kakunin.retention.context import RetentionContext

    return RetentionContext.from_env(as_of=_day(as_of), future_as_of=future_as_of)


@retention.command("run")
@_as_of_option
@click.option("--dry-run", is_flag=True, help="Print what would go, per dataset and expiry month, and what is held.")
@click.option(
    "--allow-future-as-of",
    "allow_future",
    is_flag=True,
    help="Allow an as-of date after today (purges records before their retention ends; recorded in the certificate).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def retention_run(as_of: Any, dry_run: bool, allow_future: bool, as_json: bool) -> None:
    """Remove every curated record whose retention_until is before the as-of date (default today).

    A dry run may look ahead to any date; a real run as of a later day than today needs
    --allow-future-as-of.
    """
    from kakunin.retention.purge import check_as_of, make_plan
    from kakunin.retention.purge import dry_run as summarise

    future = check_as_of(_day(as_of), today=clock.today(), allow_future=allow_future or dry_run)
    ctx = _retention_context(as_of, future_as_of=future)
    if dry_run:
        summary = summarise(make_plan(ctx))
        if as_json:
            _emit_json(summary.model_dump(mode="json"))
        else:
            click.echo(render.dry_run_text(summary), nl=False)
        return
    certificates = _run_or_busy(ctx, as_json=as_json)
    if as_json:
        _emit_json([c.model_dump(mode="json") for c in certificates])
    else:
        click.echo(render.certificates_text(certificates, as_of=ctx.as_of), nl=False)


def _run_or_busy(ctx: Any, *, as_json: bool) -> Any:
    """Run retention; if another run holds the lease, say so and exit 75 (busy, nothing done)."""
    from kakunin.retention.purge import RetentionBusy, run_retention

    try:
        return run_retention(ctx)
    except RetentionBusy as busy:
        if as_json:
            _emit_json({"outcome": "busy", "message": str(busy)})
        click.echo(f"busy: {busy}", err=True)
        sys.exit(EXIT_BUSY)


@cli.group()
def hold() -> None:
    """Legal holds: records under a hold are never purged while it stands."""


@hold.command("add")
@click.option("--dataset", required=True, help="Dataset id.")
@click.option("--batch", "batch_id", default=None, help="Hold one batch of the dataset.")
@click.option("--record", "record_id", default=None, help="Hold one record.")
@click.option("--reason", required=True, help="Why (litigation, regulator's inquiry, ...).")
@click.option("--by", "placed_by", default=None, help="Who places it (default: KAKUNIN_ACTOR or the OS user).")
def hold_add(dataset: str, batch_id: str | None, record_id: str | None, reason: str, placed_by: str | None) -> None:
    """Place a hold on a dataset, a batch or a record; prints its hold id."""
    from kakunin import audit
    from kakunin.retention.holds import place_hold
    from kakunin.storage import open_store

    if _registry().contract(dataset) is None:
        raise KakuninError(f"dataset {dataset!r} has no contract (is it registered under expectations/?)")
    placed = place_hold(
        open_store(),
        dataset=dataset,
        batch_id=batch_id,
        record_id=record_id,
        reason=reason,
        placed_by=placed_by or audit.current_actor(),
        now=clock.now_utc(),
    )
    click.echo(f"{placed.hold_id}: {placed.scope} {placed.target} held ({placed.reason})")


@hold.command("remove")
@click.argument("hold_id")
@click.option("--reason", required=True, help="Why the hold is released.")
@click.option("--by", "released_by", default=None, help="Who releases it.")
def hold_remove(hold_id: str, reason: str, released_by: str | None) -> None:
    """Release a hold (the hold and its release both stay on record)."""
    from kakunin import audit
    from kakunin.retention.holds import release_hold
    from kakunin.storage import open_store

    release_hold(
        open_store(), hold_id, reason=reason, released_by=released_by or audit.current_actor(), now=clock.now_utc()
    )
    click.echo(f"{hold_id}: released")


@hold.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the holds as JSON.")
def hold_list(as_json: bool) -> None:
    """Active holds."""
    from kakunin.retention.holds import active_holds
    from kakunin.storage import open_store

    holds = active_holds(open_store())
    if as_json:
        _emit_json([h.model_dump(mode="json") for h in holds])
        return
    rows = [(h.hold_id, h.scope, h.dataset, h.target, h.reason, h.placed_by, f"{h.placed_at:%Y-%m-%d}") for h in holds]
    click.echo(
        render.table(("hold", "scope", "dataset", "target", "reason", "by", "since"), rows) if rows else "no holds\n",
        nl=False,
    )


@cli.group()
def erasure() -> None:
    """Data subjects' erasure requests (APPI Art. 35, GDPR Art. 17)."""


@erasure.command("request")
@click.option("--dataset", required=True, help="Dataset id.")
@click.option(
    "--subject-key",
    "subject_key",
    required=True,
    multiple=True,
    help="The subject key (repeat for a composite key); '-' reads it from standard input, out of shell history.",
)
@click.option("--reason", required=True, help="The request's reference or reason.")
@click.option("--now", "purge_now", is_flag=True, help="Run retention at once instead of waiting for the next run.")
def erasure_request(dataset: str, subject_key: tuple[str, ...], reason: str, purge_now: bool) -> None:
    """Record an erasure request by the subject key's digest (the key is not stored) and say what it reaches."""
    from kakunin import audit
    from kakunin.keys import hmac_key_from_env
    from kakunin.retention.erasure import request_erasure
    from kakunin.storage import open_store

    if _registry().contract(dataset) is None:
        raise KakuninError(f"dataset {dataset!r} has no contract")
    parts = [sys.stdin.readline().rstrip("\n") if part == "-" else part for part in subject_key]
    request, matches = request_erasure(
        open_store(),
        dataset=dataset,
        subject_key=parts,
        reason=reason,
        key=hmac_key_from_env(),
        requested_by=audit.current_actor(),
        now=clock.now_utc(),
    )
    click.echo(f"{request.request_id}: {matches} record(s) of this subject in {dataset}")
    if purge_now:
        ctx = _retention_context(None)
        click.echo(render.certificates_text(_run_or_busy(ctx, as_json=False), as_of=ctx.as_of), nl=False)
    else:
        click.echo("they are purged by the next retention run (kakunin retention run, or the kakunin_retention DAG)")


@cli.group()
def demo() -> None:
    """The sample run behind `make run`: seed sample batches, then report what intake did."""


@demo.command("seed")
@click.option("--rows", default=40, show_default=True, type=click.IntRange(1, 100_000), help="Rows per sample batch.")
@_as_of_option
def demo_seed(rows: int, as_of: Any) -> None:
    """Write the sample batches into $KAKUNIN_HOME/samples, submit each, and print the gate's decisions."""
    from kakunin.batches import submit_batch
    from kakunin.storage import open_store

    try:
        from kakunin_dev.samples import write_samples  # dev-only: not part of the runtime package
    except ModuleNotFoundError as exc:
        if exc.name != "kakunin_dev":
            raise
        raise KakuninError("the demo needs the dev tools (kakunin_dev): run `make install` in a checkout") from exc

    store, registry, today = open_store(), _registry(), _day(as_of)
    samples_root = Path(os.environ.get("KAKUNIN_HOME") or "var") / "samples"
    shutil.rmtree(samples_root, ignore_errors=True)
    samples = write_samples(samples_root, today=today, rows=rows)
    table_rows, surprises = [], 0
    for sample in samples:
        result = submit_batch(sample.path, store=store, registry=registry, today=today, now=clock.now_utc())
        codes = [f.code.value for f in result.verdict.findings]
        expected = sample.expected.value if sample.expected else "-"
        as_expected = (
            sample.at_intake
            or (sample.expected is None and not codes)
            or (sample.expected is not None and sample.expected.value in codes)
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
    headers = ("sample", "encoding", "expected", "gate", "codes", "landed as", "as expected")
    click.echo(render.table(headers, table_rows, title=f"Provenance gate decisions ({len(samples)} sample batches)"))
    landed = sum(1 for row in table_rows if row[5] != "-")
    click.echo(f"{landed} landed, {len(samples) - landed} rejected; store: {store.describe()}")
    if surprises:
        click.echo(f"error: {surprises} sample(s) did not get their expected decision", err=True)
        sys.exit(EXIT_NEGATIVE)


@demo.command("report")
@_anchor_options
def demo_report(checkpoints: tuple[Path, ...], public_key_file: Path | None, against_log: bool) -> None:
    """After intake: every batch with its outcome, one record traced, and the verify verdict."""
    from kakunin.batches import list_batches
    from kakunin.keys import hmac_key_from_env
    from kakunin.lineage.chain import closed_certificates
    from kakunin.lineage.trace import first_purged_id, first_record_id, text_of, trace
    from kakunin.lineage.verify import verify
    from kakunin.storage import open_store

    store = open_store()
    click.echo(render.batches_text(list_batches(store)))
    certificates = closed_certificates(store)
    if certificates:
        click.echo("Retention (kakunin_retention):")
        click.echo(render.certificates_text(certificates, as_of=certificates[-1].as_of))
        purged_id = first_purged_id(store, certificates[-1])
        if purged_id is not None:
            click.echo("One purged record, traced:")
            click.echo(
                text_of(trace(store, purged_id, hmac_key=hmac_key_from_env(), contract_for=_registry().contract))
            )
    record_id = first_record_id(store)
    if record_id is not None:
        story = trace(store, record_id, hmac_key=hmac_key_from_env(), contract_for=_registry().contract)
        click.echo("One published record, traced (kakunin lineage trace):")
        click.echo(text_of(story))
    anchors = _anchors(checkpoints, public_key_file, against_log)
    report = verify(
        store, today=clock.today(), key=hmac_key_from_env(), anchors=anchors, contract_for=_registry().contract
    )
    flags = "".join(f" --checkpoint {path}" for path in checkpoints) + (" --against-log" if against_log else "")
    click.echo(f"Lineage (kakunin lineage verify{flags}):")
    click.echo(render.verify_text(report), nl=False)
    sys.exit(EXIT_OK if report.intact else EXIT_NEGATIVE)


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

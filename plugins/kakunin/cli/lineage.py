"""`kakunin lineage trace|verify|checkpoint|keygen`: what an auditor runs."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from kakunin import clock
from kakunin.cli.base import EXIT_NEGATIVE, CliError, WholeHelpGroup, emit_json, finish, json_option, registry
from kakunin.cli.progress import shown


@click.group(cls=WholeHelpGroup)
def lineage() -> None:
    """Trace a record's story and verify that the lineage is intact (for auditors)."""


@lineage.command("trace")
@click.argument("record_id")
@json_option
def lineage_trace(record_id: str, as_json: bool) -> None:
    """Where RECORD_ID came from, under which purposes and ground, until when, and where it is now.

    With --json, `status` is live, purged or missing and `status_text` says it in a sentence.
    """
    from kakunin import audit
    from kakunin.keys import ENV_VAR, parse_hmac_key
    from kakunin.lineage.formats import AuditAction
    from kakunin.lineage.trace import text_of, trace, trace_json
    from kakunin.storage import open_store

    store = open_store()
    key = parse_hmac_key(os.environ[ENV_VAR]) if os.environ.get(ENV_VAR) else None
    from kakunin.subjects.find import stop_id_for

    # The contract only serves the keyed digest check: without a key no contract is read (as in verify).
    contract_for = registry().contract if key is not None else None
    found = trace(
        store, record_id.strip().lower(), hmac_key=key, contract_for=contract_for, stop_for=stop_id_for(store)
    )
    audit.record(store, AuditAction.TRACE, at=clock.now_utc(), dataset=found.dataset, record_ids=[found.record_id])
    if as_json:
        emit_json(trace_json(found))
    else:
        click.echo(text_of(found), nl=False)


def anchor_options(command: Callable[..., Any]) -> Callable[..., Any]:
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


def anchors(checkpoints: tuple[Path, ...], public_key_file: Path | None, against_log: bool) -> Any:
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
@json_option
@anchor_options
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
    """Check every chain, file hash and record; exit 0 intact, 1 not.

    With KAKUNIN_HMAC_KEY every seal is checked too, and with checkpoints the chain tails.
    """
    from kakunin import audit, render
    from kakunin.keys import hmac_key_if_set
    from kakunin.lineage.formats import AuditAction
    from kakunin.lineage.verify import verify
    from kakunin.storage import open_store

    anchored = anchors(checkpoints, public_key_file, against_log)
    store = open_store()
    key = None if keyless else hmac_key_if_set()
    contract_for = registry().contract if key is not None else None
    with shown("kakunin lineage verify") as progress:
        report = verify(
            store,
            today=clock.today(),
            key=key,
            allow_legacy=allow_legacy,
            anchors=anchored,
            contract_for=contract_for,
            progress=progress,
        )
    if as_json:
        emit_json(report.model_dump(mode="json"))
    else:
        click.echo(render.verify_text(report), nl=False)
    detail = {"intact": report.intact, "problems": len(report.problems), "manifests": report.manifests}
    audit.record(store, AuditAction.VERIFY, at=clock.now_utc(), detail={**detail, "mode": report.mode})
    finish(report.intact)


@lineage.command("checkpoint")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write the checkpoint to FILE, outside the store (the auditor's copy); never overwrites.",
)
@json_option
def lineage_checkpoint(out: Path | None, as_json: bool) -> None:
    """Sign the heads and counts of every chain (KAKUNIN_SIGNING_KEY); exit 1 if the lineage is not intact."""
    from kakunin import render
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
    contract_for = registry().contract if hmac_key is not None else None
    report = verify(store, today=clock.today(), key=hmac_key, contract_for=contract_for)
    if not report.intact:
        if not as_json:
            click.echo(render.verify_text(report), nl=False, err=True)
        raise CliError(
            f"not signed: a checkpoint vouches only for an intact lineage ({len(report.problems)} problem(s); "
            "run `kakunin lineage verify`)",
            code="not_intact",
            exit_code=EXIT_NEGATIVE,
        )
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
        emit_json(checkpoint.model_dump(mode="json"))
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
@json_option
def lineage_keygen(public_key_out: Path, as_json: bool) -> None:
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
    key_id = public_key_id(key.public_key())
    if as_json:
        emit_json(
            {
                "private_key": private_hex(key),
                "public_key": public_hex(key.public_key()),
                "key_id": key_id,
                "public_key_file": str(public_key_out),
            }
        )
    else:
        click.echo(private_hex(key))
    click.echo(
        f"note: the private signing key (key id {key_id}) is on stdout, shown once; "
        f"keep it in a secret store and pass it as {SIGNING_ENV}, never in the store",
        err=True,
    )

"""`kakunin provenance check|submit|upgrade|draft|dispose` and `kakunin batches`: the gate, as staff use it."""

from __future__ import annotations

import tempfile
from datetime import date
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
from kakunin.errors import InputError


@click.group(cls=WholeHelpGroup)
def provenance() -> None:
    """Check and submit batches against their provenance document (kakunin.provenance/v1 and /v2)."""


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
    purged), reason codes and, for a rejected batch, how its outside copies were disposed of."""
    from kakunin.approvals import with_awaiting
    from kakunin.batches import list_batches
    from kakunin.storage import open_store

    store = open_store()
    found = with_awaiting(store, list_batches(store))
    if as_json:
        emit_json([b.model_dump(mode="json") for b in found])
    else:
        click.echo(render.batches_text(found), nl=False)


_OUT_HELP = "Write to FILE instead of stdout (.json: as JSON); an existing FILE is refused without --force."
_FORCE_HELP = "Overwrite an existing --out FILE."


@provenance.command("upgrade")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=None, help=_OUT_HELP)
@click.option("--force", is_flag=True, help=_FORCE_HELP)
@json_option
def provenance_upgrade(path: Path, out: Path | None, force: bool, as_json: bool) -> None:
    """Rewrite the v1 document at PATH (a file or a batch folder) as kakunin.provenance/v2.

    Writes to stdout or --out and never changes PATH. Fields v2 needs that v1 never held are
    written as TODO; their paths are listed on stderr, and `provenance check` refuses each
    one until it is filled in. A v2 document is written out unchanged. Exit 0 written, 2 could not run.
    --json prints {"out", "todos", "already_v2", "filled_from_provider"} (and "document" when there is no --out).
    """
    from kakunin.provenance.document import locate_document
    from kakunin.provenance.upgrade import upgrade_mapping

    _, doc_path = locate_document(path)
    if doc_path is None:
        raise InputError(f"{path}: no provenance document in the folder")
    raw, mapping = _read_mapping(doc_path)
    try:
        result = upgrade_mapping(mapping)
    except ValueError as exc:
        raise InputError(f"{doc_path}: {exc}") from exc
    data = raw if result.already_v2 else _document_bytes(result.document, out)
    extra = {"already_v2": result.already_v2, "filled_from_provider": result.filled_from_provider}
    _deliver(
        data, result.document, out=out, force=force, original=doc_path, as_json=as_json, todos=result.todos, extra=extra
    )
    if not as_json and result.already_v2:
        click.echo(f"{doc_path}: already kakunin.provenance/v2; written unchanged", err=True)
    for filled in [] if as_json else result.filled_from_provider:
        click.echo(f"{filled}: taken from the provider; check it", err=True)


@provenance.command("draft")
@click.argument("batch_dir", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=None, help=_OUT_HELP)
@click.option("--force", is_flag=True, help=_FORCE_HELP)
@click.option("--dataset", default=None, help="Dataset id: fills data_items (and special_care) from its contract.")
@click.option(
    "--ground",
    type=click.Choice(["consent", "opt_out", "entrustment", "business_succession", "joint_use", "legal_obligation"]),
    default=None,
    help="The legal ground, if known: its block is drafted with TODOs.",
)
@click.option(
    "--received-on",
    "received_on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day the data arrived (YYYY-MM-DD); default today in KAKUNIN_TIMEZONE.",
)
@json_option
def provenance_draft(
    batch_dir: Path,
    out: Path | None,
    force: bool,
    dataset: str | None,
    ground: str | None,
    received_on: Any,
    as_json: bool,
) -> None:
    """Write a starting v2 document for BATCH_DIR: every file under evidence/ with its SHA-256 (size as a
    comment), data_items from the dataset contract, TODO where a person must decide.

    Written to BATCH_DIR/provenance.yaml when the folder has no document yet, else to stdout
    (or --out). The TODO paths are listed on stderr. Exit 0 written, 2 could not run.
    --json prints {"out", "todos", "evidence_files": [{file, sha256, size}]} (and "document" when printed).
    """
    from kakunin.cli.base import known_dataset
    from kakunin.provenance.document import DOCUMENT_NAMES
    from kakunin.provenance.draft import draft_document, draft_text, list_evidence_files
    from kakunin.provenance.upgrade import todo_paths

    if not batch_dir.is_dir() or batch_dir.is_symlink():
        raise InputError(f"{batch_dir}: not a batch folder")
    contract = registry().contract(known_dataset(dataset)) if dataset is not None else None
    evidence = list_evidence_files(batch_dir)
    day_received: date = received_on.date() if received_on is not None else clock.today()
    document = draft_document(
        evidence=evidence, dataset=dataset, contract=contract, received_on=day_received, ground=ground
    )
    if out is None and not any((batch_dir / n).exists() or (batch_dir / n).is_symlink() for n in DOCUMENT_NAMES):
        out = batch_dir / "provenance.yaml"
    elif out is None and not as_json:
        click.echo(f"{batch_dir} already holds a provenance document; the draft is printed instead", err=True)
    if out is not None and out.suffix.lower() == ".json":
        data = _document_bytes(document, out)
    else:
        sizes = {e.file: e.size for e in evidence}
        data = draft_text(document, sizes=sizes, source=batch_dir.resolve().name).encode()
    files = [{"file": e.file, "sha256": e.sha256, "size": e.size} for e in evidence]
    todos = todo_paths(document)
    _deliver(
        data,
        document,
        out=out,
        force=force,
        original=None,
        as_json=as_json,
        todos=todos,
        extra={"evidence_files": files},
    )
    if out is not None and not as_json:
        click.echo(f"wrote {out} ({len(evidence)} evidence file(s) hashed)", err=True)


@provenance.command("dispose")
@click.argument("batch_id")
@click.option("--method", type=click.Choice(["returned", "deleted"]), required=True, help="What was done.")
@click.option("--by", "by", required=True, help="Staff id of the employee who returned or deleted the copies.")
@click.option(
    "--note",
    required=True,
    help="One line on how (at most 200 characters, e.g. '書留で返却'). It goes into the audit log: "
    "it must not hold personal data.",
)
@json_option
def provenance_dispose(batch_id: str, method: str, by: str, note: str, as_json: bool) -> None:
    """Record how a REJECTED batch's copies outside the store were returned or deleted (an audit entry).

    `kakunin batches` then shows the disposal. Exit 0 recorded; 1 refused (the batch is not
    rejected, or its disposal is already recorded); 2 could not run (unknown batch, bad arguments).
    """
    from kakunin.batches import find_batch
    from kakunin.disposal import check_by, check_note, dispose
    from kakunin.storage import open_store

    try:
        by, note = check_by(by), check_note(note)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    store = open_store()
    found = find_batch(store, batch_id)
    disposal = dispose(store, found, method=method, by=by, note=note, now=clock.now_utc())  # type: ignore[arg-type]
    if as_json:
        emit_json({"batch_id": found.batch_id, "dataset": found.dataset, **disposal.model_dump(mode="json")})
    else:
        click.echo(f"batch {found.batch_id}: {render.disposal_text(disposal)}; recorded in the audit log")


def _read_mapping(doc_path: Path) -> tuple[bytes, dict[str, Any]]:
    """The document's bytes and its parsed mapping; `InputError` when it cannot be read as one."""
    from kakunin.provenance.document import MAX_DOCUMENT_BYTES
    from kakunin.yaml_io import DocumentSyntaxError, parse_mapping

    try:
        with doc_path.open("rb") as handle:
            raw = handle.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{doc_path}: cannot be read: {exc.strerror}") from exc
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise InputError(f"{doc_path}: larger than {MAX_DOCUMENT_BYTES:,} bytes; not a provenance document")
    try:
        return raw, parse_mapping(raw.decode("utf-8-sig"), json_only=doc_path.suffix.lower() == ".json")
    except UnicodeDecodeError as exc:
        raise InputError(f"{doc_path}: not UTF-8 text (byte {exc.start})") from exc
    except DocumentSyntaxError as exc:
        raise InputError(f"{doc_path}: {exc}") from exc


def _document_bytes(document: dict[str, Any], out: Path | None) -> bytes:
    """YAML (UTF-8 kept, keys in order), or JSON when writing to a .json file."""
    from kakunin.yaml_io import dump_yaml, json_text

    if out is not None and out.suffix.lower() == ".json":
        return (json_text(document, default=str) + "\n").encode()
    return dump_yaml(document).encode()


def _write_out(data: bytes, *, out: Path | None, force: bool, original: Path | None) -> None:
    """To stdout, or to `out`: never over `original`, and over an existing file only with --force."""
    if out is None:
        click.echo(data.decode(), nl=False)
        return
    if original is not None and out.resolve() == original.resolve():
        raise InputError(f"{out}: is the document being upgraded; write the upgrade to another file")
    if not out.parent.is_dir():
        raise InputError(f"{out.parent}: no such folder")
    if out.is_dir():
        raise InputError(f"{out}: is a folder")
    exists = out.exists() or out.is_symlink()
    if exists and not force:
        raise InputError(f"{out}: already exists; pass --force to overwrite it")
    try:
        if not force:
            with out.open("xb") as handle:  # exclusive: a file that appeared meanwhile is not overwritten
                handle.write(data)
            return
        with tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.name}.", delete=False) as temp:
            temp.write(data)
        Path(temp.name).replace(out)
    except FileExistsError as exc:
        raise InputError(f"{out}: already exists; pass --force to overwrite it") from exc
    except OSError as exc:
        raise InputError(f"{out}: cannot be written: {exc.strerror}") from exc


def _deliver(
    data: bytes,
    document: dict[str, Any],
    *,
    out: Path | None,
    force: bool,
    original: Path | None,
    as_json: bool,
    todos: list[str],
    extra: dict[str, Any],
) -> None:
    """Write the document (or, under --json without --out, put it in the JSON) and report the TODOs."""
    from kakunin.yaml_io import json_text

    if not (as_json and out is None):
        _write_out(data, out=out, force=force, original=original)
    if not as_json:
        _echo_todos(todos)
        return
    payload: dict[str, Any] = {"out": None if out is None else str(out), "todos": todos, **extra}
    if out is None:
        payload["document"] = document
    click.echo(json_text(payload, default=str))


def _echo_todos(todos: list[str]) -> None:
    if not todos:
        click.echo("no TODO left", err=True)
        return
    click.echo(f"{len(todos)} TODO(s) for a person to fill in (provenance check refuses each):", err=True)
    for path in todos:
        click.echo(f"  {path}", err=True)

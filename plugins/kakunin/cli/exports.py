"""`kakunin export` and `kakunin exports`: take records out for one purpose (持ち出し), and the register of it.

An export releases the live records of a dataset that carry the purpose, with only the
columns the contract's `export_columns` allows for it, within the take-out limits of
`expectations/takeout-policy.yaml`. The copy handed out is the file at `--out`; the store
keeps the export and its receipt, so a later purge or erasure can reach it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from kakunin import clock
from kakunin.cli.base import WholeHelpCommand, dataset_option, emit_json, json_option, known_dataset, registry
from kakunin.exports.schedule import STAFF_ID


def _staff_id(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    value = value.strip()
    if not re.fullmatch(STAFF_ID, value):
        raise click.BadParameter("a staff id: letters, digits, '.', '_', ':' or '-', at most 64 (never an email)")
    return value


def _columns(_ctx: click.Context, _param: click.Parameter, value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [c.strip() for c in value.split(",")]
    if not all(names):
        raise click.BadParameter("a comma-separated list of column names, e.g. customer_no,email")
    return names


def _out_path(_ctx: click.Context, _param: click.Parameter, value: str) -> Path:
    """The copy's path: .parquet or .csv, in a folder that exists, never over an existing file."""
    path = Path(value)
    if ".." in path.parts:
        raise click.BadParameter(f"{value}: name the file without '..'")
    if path.suffix not in (".parquet", ".csv"):
        raise click.BadParameter(f"{value}: the file name must end in .parquet or .csv")
    if path.exists() or path.is_symlink():
        raise click.BadParameter(f"{value} already exists; nothing was overwritten (name a new file)")
    if not path.parent.is_dir():
        raise click.BadParameter(f"{path.parent} is not a folder that exists")
    return path


@click.command("export", cls=WholeHelpCommand)
@dataset_option
@click.option("--purpose", required=True, help="The purpose of use (an id of expectations/purposes.yaml).")
@click.option(
    "--requested-by", required=True, callback=_staff_id, help="Staff id of the person the export is for (持ち出し者)."
)
@click.option("--out", "out", required=True, callback=_out_path, help="The file to write: .parquet or .csv (UTF-8).")
@click.option(
    "--columns",
    callback=_columns,
    help="Only these of the purpose's columns (the contract's export_columns; comma-separated).",
)
@json_option
def export(dataset: str, purpose: str, requested_by: str, out: Path, columns: list[str] | None, as_json: bool) -> None:
    """Export a dataset's records for one purpose (持ち出し): only its columns, within the limits of the policy.

    Records are released when they carry the purpose and are live: not purged, within their
    retention, not stopped (利用停止), not named by a pending erasure request. A refusal
    (目的外利用, a column the purpose does not need, over a limit) exits 1 and writes no file;
    the audit log (監査) records it either way.
    """
    from kakunin.exports.release import ExportRefused, release
    from kakunin.exports.takeout import load_policy
    from kakunin.storage import open_store

    reg = registry()
    outcome = release(
        open_store(),
        reg,
        dataset=dataset,
        purpose=purpose.strip(),
        requested_by=requested_by,
        columns=columns,
        now=clock.now_utc(),
        policy=load_policy(reg.root),
        delivered_to=out,
    )
    if outcome.refusal is not None:
        raise ExportRefused(f"{outcome.refusal.code.value}: {outcome.refusal.message}")
    receipt = outcome.receipt
    if receipt is None:  # release returns a receipt or a refusal
        raise RuntimeError("an export outcome with neither receipt nor refusal")
    if as_json:
        emit_json(receipt.model_dump(mode="json") | {"out": str(out)})
    else:
        click.echo(export_text(receipt, out), nl=False)


def export_text(receipt: Any, out: Path) -> str:
    """What was taken out, what was kept back and why, and the limits it was measured against."""
    excluded = ", ".join(f"{why} {n}" for why, n in sorted(receipt.excluded.items())) or "none"
    lines = [
        f"export {receipt.export_id}: {receipt.rows} row(s) of {receipt.dataset} for {receipt.purpose}",
        f"  columns: source_record_id, {', '.join(receipt.columns)}",
        f"  written to {out} (sha256 {receipt.delivered.sha256 if receipt.delivered else '-'})",
        f"  not released: {excluded}",
        "  limits (持ち出し上限): "
        + "; ".join(f"{c.limit} {c.measured}/{c.allowed}" + (" OVER" if c.exceeded else "") for c in receipt.limits),
    ]
    if receipt.alert:
        lines.append(
            "  ALERT: over a take-out limit the policy allows with an alert; flagged for the daily 監査 review"
        )
    return "\n".join(lines) + "\n"


@click.command("exports", cls=WholeHelpCommand)
@click.option("--dataset", default=None, help="Only this dataset's exports.")
@json_option
def exports(dataset: str | None, as_json: bool) -> None:
    """The export register (持ち出し台帳): every export, who asked and who ran it, and whether it is still held."""
    from kakunin.exports.store import export_receipts, register_row
    from kakunin.storage import open_store

    if dataset is not None:
        known_dataset(dataset)
    store = open_store()
    rows = [
        register_row(r, held=store.exists(r.manifest.key))
        for r in export_receipts(store)
        if dataset is None or r.dataset == dataset
    ]
    if as_json:
        emit_json({"count": len(rows), "exports": rows})
    else:
        click.echo(register_text(rows), nl=False)


def register_text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no exports\n"
    head = ["export", "when (UTC)", "dataset", "purpose", "requested by", "actor", "rows", "state", "alert"]
    table = [
        [
            r["export_id"],
            r["created_at"][:19].replace("T", " "),
            r["dataset"],
            r["purpose"],
            r["requested_by"],
            r["actor"] + (f" ({r['actor_authenticated_by']})" if r["actor_authenticated_by"] else " (self-declared)"),
            str(r["rows"]),
            r["state"],
            "ALERT" if r["alert"] else "-",
        ]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [head, *table]) for i in range(len(head))]
    text = "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in [head, *table]
    )
    return text + f"\n{len(rows)} export(s)\n"


__all__ = ["export", "exports"]

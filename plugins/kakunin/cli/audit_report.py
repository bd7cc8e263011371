"""`kakunin audit report`: the evidence pack (証跡パック) of a period, as a page and as JSON."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from kakunin import clock
from kakunin.cli.base import CliError, emit_json, json_option, registry

DATE = click.DateTime(formats=["%Y-%m-%d"])


@click.command("report")
@click.option("--from", "start", type=DATE, required=True, help="First day of the period (YYYY-MM-DD), included.")
@click.option("--to", "end", type=DATE, required=True, help="Last day of the period (YYYY-MM-DD), included.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="A new or empty folder for report.html, report.json and charts/; never overwritten.",
)
@json_option
def audit_report(start: datetime, end: datetime, out: Path, as_json: bool) -> None:
    """Write a period's evidence pack (証跡パック) for auditors.

    It writes report.html (charts, each with a table of its numbers) and report.json
    under --out. Days are counted in KAKUNIN_TIMEZONE (default Asia/Tokyo). The pack states the
    `lineage verify` verdict; the command exits 0 even when the lineage is NOT intact,
    since the pack reports it (run `kakunin lineage verify` for a verdict exit code).
    Exit 2 when the period is reversed or --out is not empty.
    """
    from kakunin import audit
    from kakunin.audit.charts import chart_svg, figures
    from kakunin.audit.pack import evidence
    from kakunin.audit.pack_html import render_html
    from kakunin.hashing import sha256_bytes
    from kakunin.lineage.formats import AuditAction
    from kakunin.storage import open_store
    from kakunin.yaml_io import json_text

    if start.date() > end.date():
        raise CliError(f"--from {start:%Y-%m-%d} is after --to {end:%Y-%m-%d}", code="usage")
    _check_empty(out)
    store = open_store()
    now = clock.now_utc()
    pack = evidence(store, registry(), start=start.date(), end=end.date(), now=now, zone=clock.business_timezone())
    charts = {f.id: svg for f in figures(pack) if (svg := chart_svg(f)) is not None}
    files = {
        "report.html": render_html(pack, charts).encode(),
        "report.json": (json_text(pack.model_dump(mode="json")) + "\n").encode(),
        **{f"charts/{name}.svg": svg.encode() for name, svg in charts.items()},
    }
    written = _write_new(out, files)
    detail: dict[str, Any] = {
        "from": pack.start.isoformat(),
        "to": pack.end.isoformat(),
        "intact": pack.verify.intact,
        "report_html_sha256": sha256_bytes(files["report.html"]),
        "report_json_sha256": sha256_bytes(files["report.json"]),
    }
    audit.record(store, AuditAction.AUDIT_REPORT, at=now, detail=detail)
    verdict = "intact" if pack.verify.intact else f"NOT intact ({len(pack.verify.problems)} problem(s))"
    if as_json:
        emit_json({**detail, "html": str(written["report.html"]), "json": str(written["report.json"])})
        return
    click.echo(f"evidence pack {pack.start} – {pack.end}: lineage {verdict}")
    click.echo(f"  {written['report.html']}\n  {written['report.json']}")


def _check_empty(out: Path) -> None:
    """Refuse a folder that holds anything, or a path that is not a folder: nothing is overwritten."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise CliError(f"--out {out}: not a folder", code="input")
    if out.is_dir() and any(out.iterdir()):
        raise CliError(f"--out {out}: the folder is not empty; give a new or empty folder", code="input")


def _write_new(out: Path, files: dict[str, bytes]) -> dict[str, Path]:
    """Write each file under `out`, never replacing one (mode x)."""
    try:
        (out / "charts").mkdir(parents=True, exist_ok=True)
        written = {}
        for name, data in files.items():
            path = out / name
            with path.open("xb") as handle:
                handle.write(data)
            written[name] = path
    except OSError as exc:
        raise CliError(f"--out {out}: cannot write the pack: {exc.strerror or exc}", code="input") from exc
    return written

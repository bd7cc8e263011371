"""Formatting for people: functions that return text, so the CLI only prints."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from kakunin.batches import BatchSummary, SubmitResult
from kakunin.codes import Severity
from kakunin.provenance.findings import Finding, Verdict

_MARK = {Severity.ERROR: "✗", Severity.WARNING: "!"}


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, title: str | None = None) -> str:
    """A plain, aligned text table (no colour), wide enough not to wrap."""
    grid = Table(*headers, title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    for row in rows:
        grid.add_row(*row)
    buffer = io.StringIO()
    Console(file=buffer, width=240, no_color=True, highlight=False, emoji=False, soft_wrap=True).print(grid)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()).strip("\n") + "\n"


def finding_line(finding: Finding) -> str:
    article = ""
    if finding.article:
        article = f" [{finding.article}]" if finding.article.startswith("GDPR") else f" [APPI {finding.article}]"
    where = finding.path or "(document)"
    return f"  {_MARK[finding.severity]} {finding.code.value:<25} {where}: {finding.message}{article}"


def verdict_text(verdict: Verdict) -> str:
    errors = sum(f.severity is Severity.ERROR for f in verdict.findings)
    warnings = len(verdict.findings) - errors
    head = f"{verdict.document_id or '(no document id)'}: {verdict.decision}"
    if verdict.findings:
        head += f" ({errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)})"
    return "\n".join([head, *(finding_line(f) for f in verdict.findings)]) + "\n"


def submit_text(result: SubmitResult) -> str:
    text = verdict_text(result.verdict)
    if result.landed:
        text += f"landed as batch {result.batch_id}\n"
        if result.files_not_copied:
            text += "not copied (not the document, the data file or cited evidence): "
            text += ", ".join(result.files_not_copied) + "\n"
    else:
        text += f"not landed; the rejection is recorded as batch {result.batch_id}\n"
    return text


def intake_text(results: Sequence[Any]) -> str:
    if not results:
        return "no pending batches\n"
    rows = [
        (
            r.batch,
            r.decision,
            "-" if r.received is None else str(r.received),
            "-" if r.published is None else str(r.published),
            "-" if r.quarantined is None else str(r.quarantined),
            ", ".join(r.codes) or "-",
        )
        for r in results
    ]
    return table(("batch", "decision", "received", "published", "quarantined", "reason codes"), rows)


def verify_text(report: Any) -> str:
    verdict = "intact" if report.intact else f"NOT intact: {len(report.problems)} problem(s)"
    head = (
        f"{verdict} — {report.manifests} manifest(s), {report.records} record(s), "
        f"{report.curated_files} curated file(s), {report.audit_entries} audit entr"
        f"{'y' if report.audit_entries == 1 else 'ies'}\n"
    )
    return head + "".join(f"  ✗ {p.check:<9} {p.where}: {p.message}\n" for p in report.problems)


def batches_text(batches: Sequence[BatchSummary]) -> str:
    if not batches:
        return "no batches yet\n"

    def count(value: int | None) -> str:
        return "-" if value is None else str(value)

    rows = [
        (
            b.batch_id,
            b.dataset,
            b.document_id or "-",
            b.state + (f" ({b.stage})" if b.stage else ""),
            count(b.received),
            count(b.published),
            count(b.quarantined),
            ", ".join(b.reason_codes) or "-",
        )
        for b in batches
    ]
    headers = ("batch", "dataset", "document", "state", "received", "published", "quarantined", "reason codes")
    return table(headers, rows)

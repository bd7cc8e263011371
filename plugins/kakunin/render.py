"""Formatting for people: functions that return text, so the CLI only prints."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from kakunin.batches import BatchSummary, SubmitResult
from kakunin.codes import ReasonCode, Severity
from kakunin.disposal import Disposal
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
            ", ".join(r.codes) or (r.error or "-"),
        )
        for r in results
    ]
    return table(("batch", "decision", "received", "published", "quarantined", "reason codes"), rows)


def verify_mode_line(report: Any) -> str:
    """What this verify could detect: an auditor must see it before the verdict."""
    if report.mode == "keyed":
        legacy = report.legacy_entries
        text = "mode: keyed (KAKUNIN_HMAC_KEY): chain entries' seals (MACs) checked"
        if getattr(report, "records_rehashed", None) is not None:
            text += f", {report.records_rehashed} live record(s) re-hashed to their record_digest"
        if legacy:
            counts = ", ".join(f"{chain} {count}" for chain, count in sorted(legacy.items()))
            text += f"; unsealed legacy entries (hashes only): {counts}"
        return text + "\n"
    return "mode: keyless: hashes only; a writer who re-hashes the store is not detected (set KAKUNIN_HMAC_KEY)\n"


def verify_text(report: Any) -> str:
    verdict = "intact" if report.intact else f"NOT intact: {len(report.problems)} problem(s)"
    head = (
        f"{verdict} — {report.manifests} manifest(s), {report.certificates} purge certificate(s), "
        f"{report.records} record(s), "
        f"{report.curated_files} curated file(s), {report.audit_entries} audit entr"
        f"{'y' if report.audit_entries == 1 else 'ies'}\n"
    )
    problems = "".join(f"  ✗ {p.check:<9} {p.where}: {p.message}\n" for p in report.problems)
    return verify_mode_line(report) + head + anchors_text(report) + problems


def anchors_text(report: Any) -> str:
    """One line on what anchored the chain tails (signed checkpoints), or that nothing did."""
    anchored_by = getattr(report, "anchored_by", [])
    if not anchored_by:
        return "  anchors: none (the newest entries could be removed undetected; pass --checkpoint)\n"
    return f"  anchors: {'; '.join(anchored_by)}\n"


def dry_run_text(summary: Any) -> str:
    head = f"dry run as of {summary.as_of}: nothing was changed\n"
    if not summary.rows and not summary.quarantine_objects and not summary.receipts:
        return head + "nothing would be purged\n"
    rows = [(r["dataset"], r["expiry"], str(r["records"]), str(r["held"])) for r in summary.rows]
    text = head + table(("dataset", "expiry", "would purge", "held"), rows)
    text += (
        f"{summary.files_deleted} file(s) would be deleted whole, {summary.files_rewritten} rewritten; "
        f"{summary.quarantine_objects} quarantine object(s), {summary.receipts} receipt record(s) past keep_until\n"
    )
    text += "".join(
        f"held by {r.hold_id} ({r.scope} {r.target}): {r.records} record(s) — {r.reason}\n" for r in summary.retained
    )
    if summary.erasure_requests:
        text += f"erasure requests carried out: {', '.join(summary.erasure_requests)}\n"
    return text


def certificates_text(certificates: Sequence[Any], *, as_of: Any) -> str:
    if not certificates:
        return f"as of {as_of}: nothing to purge\n"
    lines = []
    for c in certificates:
        deleted = sum(1 for f in c.files if f.action == "delete")
        lines.append(
            f"purge certificate {c.run_id} ({c.status}, as of {c.as_of}): {c.purged_count} record(s) purged; "
            f"{deleted} file(s) deleted whole, {len(c.files) - deleted} rewritten; "
            f"{len(c.quarantine_removed)} quarantine object(s), {len(c.receipts_removed)} receipt(s) removed"
        )
        for b in c.batches:
            lines.append(f"  {b.dataset}/{b.batch_id} ({b.provenance_document_id or '-'}): {b.records} record(s)")
        for r in c.retained:
            lines.append(f"  retained by {r.hold_id} ({r.scope} {r.target}): {r.records} record(s) — {r.reason}")
        if c.erasure_requests:
            lines.append(f"  erasure requests carried out: {', '.join(c.erasure_requests)}")
    return "\n".join(lines) + "\n"


def batches_text(batches: Sequence[BatchSummary]) -> str:
    if not batches:
        return "no batches yet\n"
    count = count_text
    rows = [
        (
            b.batch_id,
            b.dataset,
            b.document_id or "-",
            state_text(b),
            count(b.received),
            count(b.published),
            count(b.quarantined),
            ", ".join(notes_text(b)) or "-",
        )
        for b in batches
    ]
    headers = ("batch", "dataset", "document", "state", "received", "published", "quarantined", "reason codes")
    return table(headers, rows)


def notes_text(batch: BatchSummary) -> list[str]:
    """The reason codes, `subject.erased` with its count (`subject.erased×1`), then any leaked-copy overlap
    (`overlap 2/20 (10%) from 1 other provider`)."""
    notes = [
        f"{c}×{batch.erased}" if c == ReasonCode.SUBJECT_ERASED and batch.erased else c for c in batch.reason_codes
    ]
    if batch.overlap is not None and batch.overlap.rows:
        o = batch.overlap
        notes.append(f"overlap {o.rows}/{o.considered} ({o.ratio:.0%}) from {o.providers} other provider(s)")
    return notes


def state_text(batch: BatchSummary) -> str:
    """`published 40`, `partly purged 12/40`, `purged 40`, `rejected (parse)`, `pending`; a rejected batch's
    disposal follows its state (`rejected (provenance); returned by E1024 at ...`)."""
    if batch.state == "rejected":
        text = "rejected" + (f" ({batch.stage})" if batch.stage else "")
        return text + (f"; {disposal_text(batch.disposal)}" if batch.disposal else "")
    if batch.state in {"published", "purged"}:
        return f"{batch.state} {count_text(batch.published)}"
    if batch.state == "partly_purged":
        return f"partly purged {batch.purged}/{count_text(batch.published)}"
    return "awaiting approval (承認待ち)" if batch.state == "awaiting_approval" else batch.state


def disposal_text(disposal: Disposal) -> str:
    """`returned by E1024 at 2026-11-27 09:30 UTC`: how a rejected batch's outside copies were disposed of."""
    return f"{disposal.method} by {disposal.by} at {disposal.at:%Y-%m-%d %H:%M} UTC"


def count_text(value: int | None) -> str:
    return "-" if value is None else str(value)

"""The evidence pack's figures: each one a table of numbers, and for most a chart of the same numbers.

A figure is plain data (`Figure`), so the page shows the chart and, beside it, a table a
reader (or a screen reader, or a test) can check the chart against. Charts are matplotlib
bar charts rendered to SVG text with ASCII labels only (the Japanese titles are in the
HTML, which the browser renders with the machine's CJK font).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from kakunin.audit.pack_formats import EvidencePack

Cell = str | int | None


@dataclass(frozen=True)
class Figure:
    """One `data-figure` table of the page (and its chart when `series` names columns to plot)."""

    id: str
    title_ja: str
    title_en: str
    columns: tuple[str, ...]
    rows: list[tuple[Cell, ...]]
    series: tuple[str, ...] = ()  # the numeric columns a bar chart shows, by the first column's labels


def figures(pack: EvidencePack) -> list[Figure]:
    """Every figure of the pack, in page order."""
    b, x = pack.batches, pack.exports
    return [
        Figure(
            "batch-totals",
            "受領・受入・却下",
            "Batches received, accepted, rejected, published",
            ("measure", "batches"),
            [("received", b.received), ("accepted", b.accepted), ("rejected", b.rejected), ("published", b.published)],
            ("batches",),
        ),
        Figure(
            "batches-by-reason",
            "却下理由",
            "Rejected batches by reason code",
            ("reason code", "batches"),
            list(b.by_reason.items()),
            ("batches",),
        ),
        Figure(
            "batches-by-provider",
            "提供元別",
            "Batches by provider (corporate number)",
            ("provider", "received", "accepted", "rejected", "published"),
            [(p.provider, p.received, p.accepted, p.rejected, p.published) for p in b.by_provider],
            ("received", "accepted", "rejected", "published"),
        ),
        Figure(
            "records-by-month",
            "公開・削除",
            "Records published and purged by month",
            ("month", "published", "purged"),
            [(m.month, m.published, m.purged) for m in pack.months],
            ("published", "purged"),
        ),
        Figure(
            "receipts-due",
            "確認記録の保存期限",
            "Receipt records whose keep_until falls within 90 days after the period",
            ("dataset", "batch", "keep until"),
            [(r.dataset, r.batch_id, r.keep_until.isoformat()) for r in pack.receipts_due],
        ),
        Figure(
            "exports-by-purpose",
            "持ち出し(目的別)",
            "Exports by purpose",
            ("purpose", "exports", "rows"),
            [(t.key, t.exports, t.rows) for t in x.by_purpose],
            ("rows",),
        ),
        Figure(
            "exports-by-person",
            "持ち出し(担当者別)",
            "Exports by person (requested by)",
            ("person", "exports", "rows"),
            [(t.key, t.exports, t.rows) for t in x.by_person],
            ("rows",),
        ),
        Figure(
            "exports-refused",
            "持ち出し拒否",
            "Refused exports by reason code",
            ("reason code", "refusals"),
            list(x.refused_by_code.items()),
        ),
        Figure(
            "holds",
            "訴訟ホールド",
            "Legal holds placed, released or in force",
            ("hold", "scope", "dataset", "placed on", "placed by", "released on"),
            [(h.hold_id, h.scope, h.dataset, str(h.placed_on), h.placed_by, _day(h.released_on)) for h in pack.holds],
        ),
        Figure(
            "subject-requests",
            "本人からの請求と期限",
            "Data-subject requests and their deadlines",
            ("request", "kind", "received on", "due on", "state", "closed on", "overdue"),
            [
                (
                    r.request_id,
                    r.request,
                    str(r.received_on),
                    str(r.due_on),
                    r.state,
                    _day(r.closed_on),
                    "yes" if r.overdue or r.closed_late else "no",
                )
                for r in pack.requests
            ],
        ),
        Figure(
            "anomalies-by-kind",
            "監査で見つかった異常",
            "Anomalies found by the daily reviews, by kind",
            ("kind", "anomalies"),
            list(pack.anomalies_by_kind.items()),
            ("anomalies",),
        ),
        Figure(
            "reviews",
            "監査レビューと承認",
            "Daily reviews and their sign-offs",
            ("report", "day", "verified", "anomalies", "sign-off due", "signed by", "signed on", "overdue"),
            [
                (
                    r.report_id,
                    str(r.day),
                    "yes" if r.verified else "no",
                    r.anomalies,
                    str(r.sign_off_due),
                    r.signed_by,
                    _day(r.signed_on),
                    "yes" if r.overdue else "signed late" if r.signed_late else "no",
                )
                for r in pack.reviews
            ],
        ),
        Figure(
            "verify-problems",
            "検証の指摘",
            "Problems lineage verify found, by check",
            ("check", "problems"),
            list(pack.verify.problems_by_check.items()),
        ),
    ]


def _day(value: object) -> str | None:
    return None if value is None else str(value)


def chart_svg(figure: Figure) -> str | None:
    """The figure as a bar chart in SVG (ids prefixed by the figure's id); None when it has no series or rows."""
    if not figure.series or not figure.rows:
        return None  # nothing to draw: the table says "none"
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure as Canvas
    from matplotlib.ticker import MaxNLocator

    labels = [_ascii(str(row[0])) for row in figure.rows]
    height = max(2.2, 0.5 + 0.35 * len(labels) * len(figure.series))
    canvas = Canvas(figsize=(6.4, height))
    axes = canvas.subplots()
    width = 0.8 / len(figure.series)
    for n, name in enumerate(figure.series):
        column = figure.columns.index(name)
        values = [int(row[column] or 0) for row in figure.rows]
        positions = [i + n * width for i in range(len(labels))]
        bars = axes.barh(positions, values, height=width, label=name)
        axes.bar_label(bars, padding=2, fontsize=8)
    axes.set_yticks([i + width * (len(figure.series) - 1) / 2 for i in range(len(labels))], labels, fontsize=8)
    axes.invert_yaxis()
    largest = max(int(row[figure.columns.index(name)] or 0) for row in figure.rows for name in figure.series)
    axes.set_xlim(0, max(1, largest) * 1.15)  # room for the labels; an all-zero chart still starts at 0
    axes.set_title(_ascii(figure.title_en), fontsize=10)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(figure.series) > 1:
        axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside the bars, never over them
    canvas.tight_layout()
    out = io.StringIO()
    canvas.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    return _prefixed(out.getvalue(), figure.id)


def _ascii(text: str) -> str:
    """Chart text in ASCII (matplotlib's font may lack CJK glyphs); the table beside it has the full text."""
    return text.encode("ascii", "replace").decode("ascii")


def _prefixed(svg: str, prefix: str) -> str:
    """The `<svg>` element alone, its ids made unique to the figure (several charts share one page)."""
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r'\bid="', f'id="{prefix}-', svg)
    svg = re.sub(r'href="#', f'href="#{prefix}-', svg)
    return re.sub(r"url\(#", f"url(#{prefix}-", svg)

"""The evidence pack as one self-contained page: `report.html`.

No script, no external file, no web font: a Content-Security-Policy forbids them all, so
the page opens the same offline, in a mail client's viewer or years later. Each chart is
inline SVG with a `<table data-figure="...">` beside it holding the same numbers. Every
value is escaped; the pack holds ids, counts, codes and dates only.
"""

from __future__ import annotations

from html import escape

from kakunin.audit.charts import Cell, Figure, chart_svg, figures
from kakunin.audit.pack_formats import EvidencePack

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_STYLE = """
body { font-family: "Noto Sans CJK JP", "Noto Sans JP", "Hiragino Sans", sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }
section.figure { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; margin-bottom: 2em; }
.chart svg { width: 32em; height: auto; }
table { border-collapse: collapse; font-size: .9em; }
th, td { border: 1px solid #bbb; padding: .25em .6em; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { font-size: 1.2em; padding: .5em 1em; display: inline-block; }
.intact { background: #e3f4e3; } .broken { background: #fbe0e0; }
"""


def render_html(pack: EvidencePack, charts: dict[str, str] | None = None) -> str:
    """The page of `pack`; `charts` maps a figure id to its SVG (rendered here when not given)."""
    shown = figures(pack)
    if charts is None:
        charts = {f.id: svg for f in shown if (svg := chart_svg(f)) is not None}
    period = f"{pack.start.isoformat()} – {pack.end.isoformat()}"
    body = [
        f"<h1>証跡パック (evidence pack) {escape(period)}</h1>",
        f"<p>Days in {escape(pack.timezone)}, both ends included. Made at {escape(pack.created_at.isoformat())}.</p>",
        _verdict(pack),
        *(_section(f, charts.get(f.id)) for f in shown),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="ja">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{escape(CSP)}">\n'
        f"<title>証跡パック {escape(period)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _verdict(pack: EvidencePack) -> str:
    v = pack.verify
    state, css = (
        ("intact (改ざんなし)", "intact") if v.intact else (f"NOT intact: {len(v.problems)} problem(s)", "broken")
    )
    rows = [
        ("intact", "yes" if v.intact else "no"),
        ("mode", v.mode),
        ("manifests", v.manifests),
        ("certificates", v.certificates),
        ("audit entries", v.audit_entries),
        ("records", v.records),
        ("problems", len(v.problems)),
    ]
    table = Figure("verify", "検証", "lineage verify", ("measure", "value"), list(rows))
    return (
        f'<h2>検証 (lineage verify)</h2>\n<p class="verdict {css}">{escape(state)}</p>\n'
        + _table(table)
        + "".join(f"<p>✗ {escape(p.check)} {escape(p.where)}: {escape(p.message)}</p>\n" for p in v.problems)
    )


def _section(figure: Figure, svg: str | None) -> str:
    heading = f"<h2>{escape(figure.title_ja)} ({escape(figure.title_en)})</h2>"
    chart = f'<div class="chart" role="img" aria-label="{escape(figure.title_en)}">{svg}</div>' if svg else ""
    return f'{heading}\n<section class="figure" id="{escape(figure.id)}">{chart}{_table(figure)}</section>'


def _table(figure: Figure) -> str:
    head = "".join(f'<th scope="col">{escape(c)}</th>' for c in figure.columns)
    rows = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in figure.rows)
    if not figure.rows:
        rows = f'<tr class="empty"><td colspan="{len(figure.columns)}">none (なし)</td></tr>'
    return (
        f'<table data-figure="{escape(figure.id)}"><caption>{escape(figure.title_en)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    )


def _cell(value: Cell) -> str:
    if isinstance(value, int):
        return f'<td class="n">{value}</td>'
    return f"<td>{escape(value) if value is not None else ''}</td>"

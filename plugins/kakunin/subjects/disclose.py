"""`kakunin subject disclose`: the person's data as held (保有個人データの開示), for the person.

The one place personal data leaves the store in clear, on purpose: each record's curated row
(every column), its state and purposes, and the receipt records of the batches it came in
(who provided it, when, how they acquired it). Written as `disclosure.json` and a readable,
self-contained `disclosure.html` (no external assets, everything escaped). A person of whom
nothing is held gets a disclosure that says so: APPI requires that answer too.
"""

from __future__ import annotations

import json
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

from kakunin.errors import InputError
from kakunin.layout import BatchRef
from kakunin.storage import ObjectStore
from kakunin.subjects.find import FoundRecord, curated_row, read_batch
from kakunin.yaml_io import json_text

DISCLOSURE_KIND = "kakunin.disclosure/v1"
JSON_FILE = "disclosure.json"
HTML_FILE = "disclosure.html"
NONE_HELD = "We hold no personal data of this person (当社は、ご本人の保有個人データを保有しておりません)."

_STATE_LABELS = {
    "live": "利用中 (in use)",
    "stopped": "利用停止中 (use stopped)",
    "purged": "消去済み (erased)",
    "missing": "不在 (not in the store)",
}


def disclosure(
    store: ObjectStore, records: list[FoundRecord], *, request_id: str, written_at: datetime
) -> dict[str, Any]:
    """The disclosure document: every record with its data as held, and the receipts of its batches."""
    receipts: dict[str, Any] = {}
    out = []
    for record in records:
        ref = BatchRef(record.dataset, record.batch_id)
        if str(ref) not in receipts:
            receipts[str(ref)] = read_batch(store, ref).receipt_json
        data = curated_row(store, record.curated_file, record.record_id) if record.curated_file else None
        entry = record.model_dump(mode="json", exclude={"curated_file", "eu_origin"})
        out.append({**entry, "data": json.loads(json_text(data, default=str)) if data is not None else None})
    held = sum(1 for r in out if r["data"] is not None)
    summary = f"We hold {held} record(s) of this person." if held else NONE_HELD
    return {
        "kind": DISCLOSURE_KIND,
        "request_id": request_id,
        "written_at": written_at.isoformat(),
        "summary": summary,
        "records": out,
        "receipts": [{"batch": batch, "receipt": receipt} for batch, receipt in receipts.items()],
    }


def write_disclosure(out: Path, document: dict[str, Any]) -> list[Path]:
    """Write both files into `out` (created); refuse an `out` that exists and is not an empty folder."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out} exists and is not an empty folder: nothing written (choose a new --out)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name, text in ((JSON_FILE, json_text(document)), (HTML_FILE, disclosure_html(document))):
            path = out / name
            with path.open("x", encoding="utf-8") as handle:
                handle.write(text + "\n")
            written.append(path)
    except OSError as exc:
        raise InputError(f"cannot write the disclosure to {out}: {exc.strerror or exc}") from exc
    return written


def disclosure_html(document: dict[str, Any]) -> str:
    """The disclosure as one self-contained HTML page (inline style only, every value escaped)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="ja"><head><meta charset="utf-8">',
        "<title>保有個人データの開示 (Disclosure of personal data held)</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>保有個人データの開示 <small>Disclosure of personal data held</small></h1>",
        f"<p>受付番号 (request): {escape(document['request_id'])}<br>"
        f"作成日時 (written at): {escape(document['written_at'])}</p>",
        f"<p class=summary>{escape(document['summary'])}</p>",
    ]
    for number, record in enumerate(document["records"], 1):
        parts.append(f"<h2>記録 {number} (record {escape(record['record_id'])})</h2>")
        parts.append(_table(_record_facts(record)))
        if record["data"] is not None:
            parts.append("<h3>保有している内容 (the data as held)</h3>")
            parts.append(_table(list(record["data"].items())))
    if document["receipts"]:
        parts.append("<h2>取得の経緯 (how we received it: the receipt records)</h2>")
    for item in document["receipts"]:
        parts.append(f"<h3>バッチ (batch) {escape(item['batch'])}</h3>")
        receipt = item["receipt"]
        parts.append(_nested(receipt) if receipt is not None else "<p>記録なし (no receipt record kept)</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _record_facts(record: dict[str, Any]) -> list[tuple[str, Any]]:
    stopped = f" (stop {record['stop_id']})" if record.get("stop_id") else ""
    return [
        ("状態 (state)", _STATE_LABELS.get(record["state"], record["state"]) + stopped),
        ("提供元 (provider)", record.get("provider")),
        ("法人番号 (corporate number)", record.get("provider_corporate_number")),
        ("取得日 (received on)", record.get("received_on")),
        ("利用目的 (purposes)", ", ".join(record.get("purposes") or [])),
        ("法的根拠 (legal ground)", record.get("legal_ground")),
        ("保存期限 (kept until)", record.get("retention_until")),
        ("データセット (dataset)", f"{record['dataset']} / {record['batch_id']}"),
    ]


def _table(rows: list[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{escape(str(k))}</th><td>{_value(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _nested(value: Any) -> str:
    if isinstance(value, dict):
        return _table(list(value.items()))
    if isinstance(value, list):
        return "<ol>" + "".join(f"<li>{_value(v)}</li>" for v in value) + "</ol>"
    return escape(str(value))


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        return _nested(value)
    return escape(str(value))


_STYLE = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1em}th,td{border:1px solid #bbb;padding:.25em .5em;"
    "text-align:left;vertical-align:top}th{background:#f3f3f3;font-weight:normal}.summary{font-weight:bold}"
    "small{font-weight:normal;color:#555}"
)

"""`kakunin audit report` end to end: a store with real intake, a hold, an erasure (a purge), an export and a
reviewed day; the real command; the page opened in headless Chromium (Debian's, from `make browser`).

The page is read the way an auditor's browser shows it: every `data-figure` table's cells must equal
report.json, every chart must have been drawn, nothing may be blocked or fail on the console. A
full-page screenshot goes to var/screenshots/evidence-pack.png for a person to look at.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kakunin import clock
from kakunin.audit.formats import Anomaly, AnomalyKind, ChainVerdict, ReviewReport, SignOff
from kakunin.exports.formats import ExportReceipt
from kakunin.exports.store import write_files, write_receipt
from kakunin.hashing import sha256_file
from kakunin.layout import AUDIT_CHAIN, review_key, sign_off_key
from kakunin.lineage.chain import Chain
from kakunin.lineage.formats import AuditEntry
from kakunin.storage import ObjectStore
from kakunin.yaml_io import dump_json
from tests.conftest import kakunin_runner
from tests.intake.conftest import KEY
from tests.subjects.conftest import TwoProviders, _two_providers_store, store, two_providers

# the data-subject tests' store (two providers' batches, published by real intake), used here as fixtures
__all__ = ["_two_providers_store", "store", "two_providers"]

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "var" / "screenshots" / "evidence-pack.png"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _export(store: ObjectStore, two: TwoProviders) -> None:
    """Three records of the second batch released for marketing_email (the register, as `kakunin export` writes)."""
    with store.open_input(two.second.manifest_parquet) as handle:
        manifest = pq.read_table(handle, columns=["record_id", "batch_id", "retention_until"]).slice(5, 3)
    ids = manifest.column("record_id")
    released = pa.table({"source_record_id": ids, "customer_no": pa.array(["C1", "C2", "C3"])})
    listed = pa.table({"source_record_id": ids, "batch_id": manifest["batch_id"], "retention_until": manifest[2]})
    data, files = write_files(store, "jp_customer_leads", "exp-1", released, listed)
    write_receipt(
        store,
        ExportReceipt(
            export_id="exp-1",
            dataset="jp_customer_leads",
            purpose="marketing_email",
            columns=["customer_no"],
            requested_by="staff-7",
            actor="staff-7",
            created_at=datetime.now(UTC),
            rows=3,
            source_batches=[two.second.batch_id],
            retention_until=None,
            data=data,
            manifest=files,
        ),
    )


def _reviewed_day(store: ObjectStore) -> None:
    today = clock.today()
    report = ReviewReport(
        report_id="rev-1",
        day=today,
        created_at=datetime.now(UTC),
        created_by="airflow:kakunin_audit",
        verified=True,
        chains=[ChainVerdict(name="audit", ok=True)],
        entries=5,
        people=[],
        anomalies=[Anomaly(kind=AnomalyKind.OFF_HOURS, actor="staff-7", summary="1 export at 02:10")],
        sign_off_due=today + timedelta(days=1),
    )
    store.put_bytes(review_key("rev-1"), dump_json(report))
    sign_off = SignOff(
        report_id="rev-1", report_sha256="0" * 64, signed_by="reviewer-1", signed_at=datetime.now(UTC), note="ok"
    )
    store.put_bytes(sign_off_key("rev-1"), dump_json(sign_off))


def _expected_tables(pack: dict[str, Any]) -> dict[str, list[list[str]]]:
    """What each `data-figure` table must show, read from report.json's own fields."""

    def cells(rows: list[list[Any]]) -> list[list[str]]:
        return [["" if v is None else str(v) for v in row] for row in rows]

    b, x, v = pack["batches"], pack["exports"], pack["verify"]
    yes = {True: "yes", False: "no"}
    return {
        "verify": cells(
            [
                ["intact", yes[v["intact"]]],
                ["mode", v["mode"]],
                ["manifests", v["manifests"]],
                ["certificates", v["certificates"]],
                ["audit entries", v["audit_entries"]],
                ["records", v["records"]],
                ["problems", len(v["problems"])],
            ]
        ),
        "batch-totals": cells([[k, b[k]] for k in ("received", "accepted", "rejected", "published")]),
        "batches-by-reason": cells([[k, n] for k, n in b["by_reason"].items()]),
        "batches-by-provider": cells(
            [[p["provider"], p["received"], p["accepted"], p["rejected"], p["published"]] for p in b["by_provider"]]
        ),
        "records-by-month": cells([[m["month"], m["published"], m["purged"]] for m in pack["months"]]),
        "receipts-due": cells([[r["dataset"], r["batch_id"], r["keep_until"]] for r in pack["receipts_due"]]),
        "exports-by-purpose": cells([[t["key"], t["exports"], t["rows"]] for t in x["by_purpose"]]),
        "exports-by-person": cells([[t["key"], t["exports"], t["rows"]] for t in x["by_person"]]),
        "exports-refused": cells([[k, n] for k, n in x["refused_by_code"].items()]),
        "holds": cells(
            [
                [h["hold_id"], h["scope"], h["dataset"], h["placed_on"], h["placed_by"], h["released_on"]]
                for h in pack["holds"]
            ]
        ),
        "subject-requests": cells(
            [
                [
                    r["request_id"],
                    r["request"],
                    r["received_on"],
                    r["due_on"],
                    r["state"],
                    r["closed_on"],
                    yes[r["overdue"] or r["closed_late"]],
                ]
                for r in pack["requests"]
            ]
        ),
        "anomalies-by-kind": cells([[k, n] for k, n in pack["anomalies_by_kind"].items()]),
        "reviews": cells(
            [
                [
                    r["report_id"],
                    r["day"],
                    yes[r["verified"]],
                    r["anomalies"],
                    r["sign_off_due"],
                    r["signed_by"],
                    r["signed_on"],
                    yes[r["overdue"]],
                ]
                for r in pack["reviews"]
            ]
        ),
        "verify-problems": cells([[k, n] for k, n in v["problems_by_check"].items()]),
    }


def _open_in_chromium(page_file: Path) -> tuple[dict[str, list[list[str]]], list[dict[str, float]], list[str]]:
    """The page's tables (cells by figure), its charts' boxes, and what went wrong (console, requests)."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed: run `make browser` (Debian's chromium and fonts-noto-cjk)")
    trouble: list[str] = []
    url = page_file.as_uri()
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: trouble.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: trouble.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: trouble.append(f"request failed: {r.url}"))
            page.on("request", lambda r: None if r.url == url else trouble.append(f"request: {r.url[:80]}"))
            page.goto(url)
            tables = page.evaluate(
                """() => Object.fromEntries([...document.querySelectorAll('table[data-figure]')].map(t => [
                    t.dataset.figure,
                    [...t.querySelectorAll('tbody tr:not(.empty)')].map(r => [...r.cells].map(c => c.textContent))
                ]))"""
            )
            boxes = [svg.bounding_box() for svg in page.query_selector_all("div.chart > svg")]
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()
    return tables, [b for b in boxes if b is not None], trouble


def test_the_evidence_pack_shows_in_chromium_what_its_json_says(two_providers: TwoProviders, tmp_path: Path) -> None:
    store = two_providers.store
    cli = kakunin_runner(Path(store.root), base_env={"KAKUNIN_HMAC_KEY": KEY.hex()})  # type: ignore[attr-defined]
    held = cli("hold", "add", "--dataset", "jp_customer_leads", "--batch", two_providers.first.batch_id,
               "--reason", "L-1", "--by", "legal-team")  # fmt: skip
    assert held.code == 0, held.stderr
    erased = cli("erasure", "request", "--phone", "+81 90 1111 2222", "--reason", "REQ-1", "--now")
    assert erased.code == 0, erased.stderr
    _export(store, two_providers)
    _reviewed_day(store)
    today, out = clock.today(), tmp_path / "pack"

    made = cli("audit", "report", "--from", str(today - timedelta(days=1)), "--to", str(today), "--out", str(out),
               "--json")  # fmt: skip

    assert made.code == 0, made.stderr
    said = made.json()
    pack = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert said["intact"] is pack["verify"]["intact"] is True, pack["verify"]["problems"]
    assert said["html"] == str(out / "report.html")
    b = pack["batches"]
    assert (b["received"], b["accepted"], b["rejected"], b["published"]) == (2, 2, 0, 2)
    assert [p["published"] for p in b["by_provider"]] == [1, 1]  # two providers, by corporate number
    assert sum(m["purged"] for m in pack["months"]) == 1  # 花子 under provider B; A's batch is under the hold
    assert sum(m["published"] for m in pack["months"]) == 42
    assert pack["exports"]["by_person"] == [{"key": "staff-7", "exports": 1, "rows": 3}]
    assert [(h["scope"], h["placed_by"], h["released_on"]) for h in pack["holds"]] == [("batch", "legal-team", None)]
    # the held record keeps the erasure open (not yet overdue): the pack shows it with its deadline
    assert [(r["request"], r["state"], r["overdue"]) for r in pack["requests"]] == [("erase", "open", False)]
    assert [(r["report_id"], r["signed_by"]) for r in pack["reviews"]] == [("rev-1", "reviewer-1")]
    assert pack["anomalies_by_kind"] == {"off-hours": 1}
    page_text = (out / "report.html").read_text(encoding="utf-8")
    assert "L-1" not in page_text
    assert "REQ-1" not in page_text  # the request's reference stays in the register
    assert "hanako" not in page_text.lower()

    entries = [AuditEntry.model_validate_json(data) for _, data in Chain(store, AUDIT_CHAIN).entries()]
    (logged,) = [e for e in entries if e.action == "audit-report"]
    assert logged.detail["report_html_sha256"] == sha256_file(out / "report.html")
    assert logged.detail["report_json_sha256"] == sha256_file(out / "report.json")

    tables, boxes, trouble = _open_in_chromium(out / "report.html")

    assert tables == _expected_tables(pack)
    charts = sorted(p.stem for p in (out / "charts").glob("*.svg"))
    assert len(charts) == 6  # totals, provider, month, purpose, person, anomalies; nothing was rejected
    assert len(boxes) == len(charts)
    assert all(box["width"] > 100 and box["height"] > 50 for box in boxes), boxes
    assert trouble == []
    print(f"screenshot: {SCREENSHOT}")

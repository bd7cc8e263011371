"""`kakunin audit report` end to end: a store with real intake, a hold, an erasure (a purge), an export and a
refused one (`kakunin export`), a reviewed and signed-off day (`kakunin audit review`, `sign-off`), all by the
real commands; the page opened in headless Chromium (Debian's, from `make browser`, launched as
`kakunin_dev.screenshot` launches it).

The page is read the way an auditor's browser shows it: every `data-figure` table's cells must equal
report.json, every chart must have been drawn, nothing may be blocked or fail on the console. A
full-page screenshot goes to var/screenshots/evidence-pack.png for a person to look at.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from kakunin import clock
from kakunin.codes import ReasonCode
from kakunin.hashing import sha256_file
from kakunin.layout import AUDIT_CHAIN
from kakunin.lineage.chain import Chain
from kakunin.lineage.formats import AuditEntry
from kakunin_dev.screenshot import VIEWPORT, chromium
from tests.conftest import kakunin_runner
from tests.intake.conftest import KEY
from tests.subjects.conftest import TwoProviders, _two_providers_store, store, two_providers

# the data-subject tests' store (two providers' batches, published by real intake), used here as fixtures
__all__ = ["_two_providers_store", "store", "two_providers"]

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "var" / "screenshots" / "evidence-pack.png"
COLUMNS = ReasonCode.EXPORT_COLUMNS.value


def _expectations(tmp_path: Path) -> Path:
    """The checkout's expectations, with an audit policy that flags any volume (floor 0): the review finds
    one anomaly whatever the hour the test runs at."""
    root = tmp_path / "expectations"
    shutil.copytree(REPO / "expectations", root)
    policy = root / "audit-policy.yaml"
    text = policy.read_text(encoding="utf-8")
    assert "  floor: 100 " in text
    policy.write_text(text.replace("  floor: 100 ", "  floor: 0   "), encoding="utf-8")
    return root


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
    trouble: list[str] = []
    url = page_file.as_uri()
    with chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
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
    return tables, [b for b in boxes if b is not None], trouble


def test_the_evidence_pack_shows_in_chromium_what_its_json_says(two_providers: TwoProviders, tmp_path: Path) -> None:
    store = two_providers.store
    env = {"KAKUNIN_HMAC_KEY": KEY.hex(), "KAKUNIN_EXPECTATIONS": str(_expectations(tmp_path))}
    cli = kakunin_runner(Path(store.root), base_env=env)  # type: ignore[attr-defined]
    held = cli("hold", "add", "--dataset", "jp_customer_leads", "--batch", two_providers.first.batch_id,
               "--reason", "L-1", "--by", "legal-team")  # fmt: skip
    assert held.code == 0, held.stderr
    erased = cli("erasure", "request", "--phone", "+81 90 1111 2222", "--reason", "REQ-1", "--now")
    assert erased.code == 0, erased.stderr
    staff = {"KAKUNIN_ACTOR": "staff-7"}
    exported = cli("export", "--dataset", "jp_customer_leads", "--purpose", "marketing_email",
                   "--requested-by", "staff-7", "--out", str(tmp_path / "x.csv"), "--json", env=staff)  # fmt: skip
    assert exported.code == 0, exported.stderr
    refused = cli("export", "--dataset", "jp_customer_leads", "--purpose", "marketing_email", "--columns",
                  "customer_no,birth_date", "--requested-by", "staff-7", "--out", str(tmp_path / "y.csv"),
                  "--json", env=staff)  # fmt: skip
    assert refused.code == 1, refused.stderr
    assert refused.json()["error"]["message"].startswith(f"{COLUMNS}:")  # birth_date is not marketing_email's
    assert not (tmp_path / "y.csv").exists()
    today, out = clock.today(), tmp_path / "pack"
    reviewed = cli("audit", "review", "--day", str(today), "--json")
    assert reviewed.code == 0, reviewed.stderr
    review = reviewed.json()
    report_id = review["report_id"]
    signed = cli("audit", "sign-off", report_id, "--by", "reviewer-1", "--note", "1 export checked", "--json",
                 env={"KAKUNIN_ACTOR": "reviewer-1"})  # fmt: skip
    assert signed.code == 0, signed.stderr

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
    rows = exported.json()["rows"]
    assert pack["exports"]["by_purpose"] == [{"key": "marketing_email", "exports": 1, "rows": rows}]
    assert pack["exports"]["by_person"] == [{"key": "staff-7", "exports": 1, "rows": rows}]
    assert pack["exports"]["refused_by_code"] == {COLUMNS: 1}
    assert [(h["scope"], h["placed_by"], h["released_on"]) for h in pack["holds"]] == [("batch", "legal-team", None)]
    # the held record keeps the erasure open (not yet overdue): the pack shows it with its deadline
    assert [(r["request"], r["state"], r["overdue"]) for r in pack["requests"]] == [("erase", "open", False)]
    assert [(r["report_id"], r["signed_by"], r["signed_on"]) for r in pack["reviews"]] == [
        (report_id, "reviewer-1", str(today))
    ]
    # the review's own findings: the volume rule (floor 0) flags staff-7's export; off-hours depends on the hour
    found = Counter(a["kind"] for a in review["anomalies"])
    assert [a["actor"] for a in review["anomalies"] if a["kind"] == "volume"] == ["staff-7"]
    assert pack["anomalies_by_kind"] == dict(found)
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
    assert ["marketing_email", "1", str(rows)] in tables["exports-by-purpose"]
    assert ["staff-7", "1", str(rows)] in tables["exports-by-person"]
    assert [COLUMNS, "1"] in tables["exports-refused"]
    assert [report_id, "reviewer-1", str(today)] == [tables["reviews"][0][i] for i in (0, 5, 6)]
    charts = sorted(p.stem for p in (out / "charts").glob("*.svg"))
    assert len(charts) == 6  # totals, provider, month, purpose, person, anomalies; nothing was rejected
    assert len(boxes) == len(charts)
    assert all(box["width"] > 100 and box["height"] > 50 for box in boxes), boxes
    assert trouble == []
    print(f"screenshot: {SCREENSHOT}")

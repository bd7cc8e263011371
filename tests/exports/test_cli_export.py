"""`kakunin export` and `kakunin exports` through the real command: what a user and an auditor see."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from kakunin.layout import AUDIT_CHAIN
from kakunin_dev.people import HANAKO
from tests.conftest import REPO, Run
from tests.exports.conftest import ROWS, Published

Cli = Callable[..., Run]
LEADS = ("--dataset", "jp_customer_leads")


def export(cli: Cli, out: Path, purpose: str, *extra: str, env: dict[str, str] | None = None) -> Run:
    return cli("export", *LEADS, "--purpose", purpose, "--requested-by", "E1024", "--out", str(out), *extra, env=env)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_an_export_writes_the_copy_and_the_register_shows_it(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "email.csv"
    done = export(cli, out, "marketing_email", "--json")
    assert done.code == 0, done.stderr
    receipt = done.json()
    rows = read_csv(out)
    assert list(rows[0]) == ["source_record_id", "customer_no", "name_kanji", "email"]
    assert len(rows) == receipt["rows"] == 2 * ROWS
    assert receipt["delivered"]["key"] == "email.csv"
    text = export(cli, tmp_path / "research.parquet", "product_research")
    assert text.code == 0, text.stderr
    assert f"{ROWS} row(s) of jp_customer_leads for product_research" in text.stdout
    assert "rows_per_day" in text.stdout
    assert pq.read_table(tmp_path / "research.parquet").num_rows == ROWS

    register = cli("exports", "--json")
    assert register.code == 0, register.stderr
    listed = register.json()["exports"]
    assert [(e["purpose"], e["rows"], e["state"], e["requested_by"]) for e in listed] == [
        ("marketing_email", 2 * ROWS, "held", "E1024"),
        ("product_research", ROWS, "held", "E1024"),
    ]
    assert listed[0]["actor_authenticated_by"] is None
    assert "(self-declared)" in cli("exports").stdout
    assert cli("exports", "--dataset", "jp_entrusted_mailing", "--json").json()["count"] == 0


def test_stopped_and_erasure_requested_people_are_left_out(cli: Cli, tmp_path: Path, published: Published) -> None:
    stop = cli("subject", "stop-use", "--email", HANAKO.email, "--reason", "本人からの利用停止請求", "--json")
    assert stop.code == 0, stop.stderr
    (stopped,) = stop.json()["records"]
    first = tmp_path / "first.csv"
    assert export(cli, first, "product_research").code == 0
    someone = read_csv(first)[3]
    erase = cli(*("erasure", "request", *LEADS, "--subject-key", someone["customer_no"], "--reason", "E-1"))
    assert erase.code == 0, erase.stderr

    out = tmp_path / "email.csv"
    done = export(cli, out, "marketing_email", "--json")
    assert done.code == 0, done.stderr
    assert done.json()["excluded"] == {"stopped": 1, "erasure-requested": 1}
    released = {r["source_record_id"] for r in read_csv(out)}
    assert len(released) == 2 * ROWS - 2
    assert stopped not in released
    assert someone["source_record_id"] not in released
    again = export(cli, tmp_path / "again.csv", "marketing_email")
    assert "not released: erasure-requested 1, stopped 1" in again.stdout

    # The audit log holds ids and counts only: no name or email of anyone exported.
    people = read_csv(tmp_path / "again.csv")
    clear = [HANAKO.email, HANAKO.name_kanji, *(p["name_kanji"] for p in people)]
    clear += [r["email"] for r in read_csv(out)]
    log = b"".join(p.read_bytes() for p in (published.store.root / AUDIT_CHAIN).rglob("*") if p.is_file())
    receipts = b"".join(p.read_bytes() for p in (published.store.root / "lineage/exports").rglob("*.json"))
    assert log
    assert receipts
    assert [c for c in clear if c.encode() in log + receipts] == []


@pytest.mark.parametrize(
    ("purpose", "extra", "code"),
    [
        pytest.param("telemarketing", (), "export.purpose_unregistered", id="unregistered"),
        pytest.param("service_delivery", (), "export.purpose_not_allowed", id="not-allowed"),
        pytest.param("marketing_email", ("--columns", "customer_no,birth_date"), "export.columns", id="birth-date"),
    ],
)
def test_a_refused_export_leaves_no_file_anywhere(
    cli: Cli, tmp_path: Path, published: Published, purpose: str, extra: tuple[str, ...], code: str
) -> None:
    out = tmp_path / "out.csv"
    refused = export(cli, out, purpose, *extra)
    assert refused.code == 1
    assert refused.stderr.startswith(f"error: {code}: ")
    assert "Traceback" not in refused.stderr
    assert list(tmp_path.glob("*out.csv*")) == []
    assert not (published.store.root / "exports").exists()
    assert not (published.store.root / "lineage/exports").exists()
    as_json = export(cli, out, purpose, *extra, "--json")
    assert as_json.code == 1
    assert as_json.json()["error"]["code"] == "refused"


def test_over_the_take_out_limit_is_refused_and_says_the_figures(
    cli: Cli, tmp_path: Path, published: Published
) -> None:
    expectations = tmp_path / "expectations"
    shutil.copytree(REPO / "expectations", expectations)
    policy = f"default: {{rows_per_day: {2 * ROWS - 1}}}\n"
    (expectations / "takeout-policy.yaml").write_text(policy, encoding="utf-8")
    env = {"KAKUNIN_EXPECTATIONS": str(expectations)}
    out = tmp_path / "out.parquet"
    refused = export(cli, out, "marketing_email", env=env)
    assert refused.code == 1
    assert f"rows_per_day {2 * ROWS} > {2 * ROWS - 1}" in refused.stderr
    assert "持ち出し" in refused.stderr
    assert not out.exists()
    assert not (published.store.root / "lineage/exports").exists()
    assert export(cli, out, "product_research", env=env).code == 0, "within the limit it goes"


def test_bad_input_exits_2_and_overwrites_nothing(cli: Cli, tmp_path: Path, published: Published) -> None:
    existing = tmp_path / "existing.csv"
    existing.write_text("keep me\n", encoding="utf-8")
    cases: list[tuple[tuple[str, ...], str]] = [
        (("--out", str(existing)), "already exists"),
        (("--out", str(tmp_path / "missing" / "x.csv")), "is not a folder"),
        (("--out", str(tmp_path / "x.xlsx")), ".parquet or .csv"),
        (("--out", str(tmp_path / "store" / ".." / "x.csv")), "without '..'"),
        (("--out", str(tmp_path / "x.csv"), "--requested-by", "someone@example.invalid"), "staff id"),
        (("--out", str(tmp_path / "x.csv"), "--columns", "customer_no,,email"), "comma-separated"),
    ]
    for options, message in cases:
        args = ["export", *LEADS, "--purpose", "marketing_email", "--requested-by", "E1024", *options]
        done = cli(*args)
        assert done.code == 2, (options, done.stderr)
        assert message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    unknown = cli(
        "export", "--dataset", "nope", "--purpose", "p", "--requested-by", "E1", "--out", str(tmp_path / "y.csv")
    )
    assert unknown.code == 2
    assert "unknown dataset" in unknown.stderr
    assert cli("exports", "--dataset", "nope").code == 2
    assert existing.read_text(encoding="utf-8") == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.csv", "store"]
    assert not (published.store.root / "lineage/exports").exists()

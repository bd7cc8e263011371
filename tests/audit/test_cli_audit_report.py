"""`kakunin audit report` through the real command: what it refuses, what it never overwrites, and that a
store whose lineage is not intact still gets its pack (exit 0, the verdict inside)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from kakunin.lineage.formats import AuditAction
from kakunin.storage import LocalStore
from tests.conftest import Run

PERIOD = ("--from", "2026-11-01", "--to", "2026-11-30")


def test_a_reversed_period_is_refused_and_nothing_is_written(kakunin: Callable[..., Run], tmp_path: Path) -> None:
    out = tmp_path / "pack"
    done = kakunin("audit", "report", "--from", "2026-11-30", "--to", "2026-11-01", "--out", str(out))
    assert done.code == 2
    assert done.stderr == "error: --from 2026-11-30 is after --to 2026-11-01\n"
    assert not out.exists()


def test_a_folder_that_holds_anything_is_refused_and_left_as_it_was(
    kakunin: Callable[..., Run], tmp_path: Path
) -> None:
    out = tmp_path / "pack"
    out.mkdir()
    (out / "report.html").write_text("the auditor's earlier copy", encoding="utf-8")
    done = kakunin("audit", "report", *PERIOD, "--out", str(out), "--json")
    assert done.code == 2
    assert done.json()["error"]["code"] == "input"
    assert "not empty" in done.json()["error"]["message"]
    assert [p.name for p in out.iterdir()] == ["report.html"]
    assert (out / "report.html").read_text(encoding="utf-8") == "the auditor's earlier copy"


def test_a_file_given_as_the_folder_is_refused(kakunin: Callable[..., Run], tmp_path: Path) -> None:
    out = tmp_path / "pack.html"
    out.write_text("x", encoding="utf-8")
    done = kakunin("audit", "report", *PERIOD, "--out", str(out))
    assert done.code == 2
    assert "Traceback" not in done.stderr
    assert out.read_text(encoding="utf-8") == "x"


def test_a_store_that_is_not_intact_still_gets_its_pack_and_exit_0(kakunin: Callable[..., Run], tmp_path: Path) -> None:
    home: Path = kakunin.home  # type: ignore[attr-defined]
    first = kakunin("audit", "report", *PERIOD, "--out", str(tmp_path / "first"))
    assert first.code == 0, first.stderr
    assert "lineage intact" in first.stdout
    (entry,) = (home / "audit" / "log").glob("*.json")  # the first pack's own audit-report entry
    logged = json.loads(entry.read_text(encoding="utf-8"))
    assert logged["action"] == AuditAction.AUDIT_REPORT.value
    assert (logged["detail"]["from"], logged["detail"]["to"], logged["detail"]["intact"]) == (
        "2026-11-01",
        "2026-11-30",
        True,
    )
    assert kakunin("lineage", "verify").code == 0  # a second entry, whose link names the first one's hash
    entry.write_text(entry.read_text(encoding="utf-8").replace("2026-11-30", "2026-12-31"), encoding="utf-8")

    second = kakunin("audit", "report", *PERIOD, "--out", str(tmp_path / "second"), "--json")

    assert second.code == 0, second.stderr
    assert second.json()["intact"] is False
    pack = json.loads((tmp_path / "second" / "report.json").read_text(encoding="utf-8"))
    assert pack["verify"]["intact"] is False
    assert pack["verify"]["problems"]
    page = (tmp_path / "second" / "report.html").read_text(encoding="utf-8")
    assert "NOT intact" in page
    assert len(list(LocalStore(home).list_keys("audit/log/"))) == 3

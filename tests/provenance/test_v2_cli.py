"""`kakunin provenance check --json` on v2 documents: what the held-out spec tests read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kakunin.contracts import Registry
from tests.conftest import Run
from tests.provenance.v2 import write_v2

Kakunin = Callable[..., Run]


def test_check_json_gives_code_severity_path_and_article(
    kakunin: Kakunin, tmp_path: Path, v2_registry: Registry
) -> None:
    def denied_and_flagged(doc: dict[str, Any]) -> None:
        doc["provider"]["legal_name"] = "名簿センター（株）"
        del doc["provider"]["corporate_number"]
        doc["special_care"] = True

    batch = write_v2(tmp_path / "batch", "consent", denied_and_flagged)
    env = {"KAKUNIN_EXPECTATIONS": str(v2_registry.root)}
    run = kakunin("provenance", "check", str(batch), "--json", "--as-of", "2026-11-26", env=env)
    assert run.code == 1, run.stderr
    out = run.json()
    assert out["decision"] == "rejected"
    assert [(f["code"], f["severity"], f["path"], f["article"]) for f in out["findings"]] == [
        ("provider.denied", "error", "provider.legal_name", "20(1)"),
        ("special_care.mismatch", "warning", "special_care", "2(3), 20(2)"),
    ]
    assert "名簿業者" in out["findings"][0]["message"]

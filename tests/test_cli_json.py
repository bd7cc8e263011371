"""Every `kakunin` command answers `--json`: one JSON document on stdout, progress only on stderr.

One store is taken through the whole life of a batch once (submit, intake, trace, verify, keys,
checkpoint, holds, erasure, two retention runs, the demo), and each step's output is checked
by its own test below.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from kakunin_dev.samples import write_batch
from tests.conftest import RECEIVED_ON, Run, kakunin_runner

AS_OF = ("--as-of", "2026-11-26")
HMAC = {"KAKUNIN_HMAC_KEY": "cd" * 32}
DATASET = "jp_customer_leads"
FUTURE = ("--as-of", "2030-01-01", "--allow-future-as-of")
Kakunin = Callable[..., Run]


def _runner(home: Path) -> Kakunin:
    return kakunin_runner(home, base_env=HMAC, timeout=300)


@pytest.fixture(scope="module")
def life(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Each step of one batch's life, run with --json, keyed by a short name."""
    root = tmp_path_factory.mktemp("life")
    kakunin = _runner(root / "home")
    batch = write_batch(root / "batch", document_id="PRV-2026-000001", received_on=RECEIVED_ON, rows=5, seed=1)
    runs: dict[str, Run] = {}
    runs["check"] = kakunin("provenance", "check", str(batch), "--json", *AS_OF)
    runs["submit"] = kakunin("provenance", "submit", str(batch), "--json", *AS_OF)
    runs["batches pending"] = kakunin("batches", "--json")
    runs["intake"] = kakunin("intake", "run", "--json", *AS_OF)
    manifest = next((root / "home/lineage/manifests").rglob("manifest.parquet"))
    record_ids = pq.read_table(manifest).column("record_id").to_pylist()
    runs["trace live"] = kakunin("lineage", "trace", record_ids[0], "--json")
    runs["verify"] = kakunin("lineage", "verify", "--json")
    runs["keygen"] = kakunin("lineage", "keygen", "--public-key-out", str(root / "signer.pub"), "--json")
    signing = {"KAKUNIN_SIGNING_KEY": runs["keygen"].json()["private_key"]} if runs["keygen"].code == 0 else {}
    runs["checkpoint"] = kakunin("lineage", "checkpoint", "--json", env=signing)
    runs["hold add"] = kakunin(
        "hold", "add", "--dataset", DATASET, "--record", record_ids[0], "--reason", "r", "--json"
    )
    runs["hold list"] = kakunin("hold", "list", "--json")
    erasure = ("erasure", "request", "--dataset", DATASET, "--subject-key", "C0000000", "--reason", "ref 7")
    runs["erasure"] = kakunin(*erasure, "--json")
    runs["dry run"] = kakunin("retention", "run", "--dry-run", "--json", *FUTURE)
    runs["retention held"] = kakunin("retention", "run", "--json", *FUTURE)
    runs["batches partly purged"] = kakunin("batches", "--json")
    runs["batches partly purged text"] = kakunin("batches")
    runs["trace purged"] = kakunin("lineage", "trace", record_ids[1], "--json")
    hold_id = runs["hold add"].json()["hold_id"] if runs["hold add"].code == 0 else "none"
    runs["hold remove"] = kakunin("hold", "remove", hold_id, "--reason", "settled", "--json")
    runs["retention rest"] = kakunin("retention", "run", "--json", *FUTURE)
    runs["batches purged"] = kakunin("batches", "--json")
    runs["batches purged text"] = kakunin("batches")
    runs["demo report"] = kakunin("demo", "report", "--json")
    runs["demo seed"] = kakunin("demo", "seed", "--rows", "3", "--json", *AS_OF)
    return runs


EVERY_STEP = [
    "check",
    "submit",
    "batches pending",
    "intake",
    "trace live",
    "verify",
    "keygen",
    "checkpoint",
    "hold add",
    "hold list",
    "erasure",
    "dry run",
    "retention held",
    "batches partly purged",
    "trace purged",
    "hold remove",
    "retention rest",
    "batches purged",
    "demo report",
    "demo seed",
]


@pytest.mark.parametrize("step", EVERY_STEP)
def test_every_command_answers_one_json_document_on_stdout(life: dict[str, Run], step: str) -> None:
    run = life[step]
    assert run.code == 0, (run.stdout, run.stderr)
    payload = run.json()
    assert payload is not None
    assert "error" not in payload
    assert "Traceback" not in run.stderr


def test_intake_json_decision_is_a_value(life: dict[str, Run]) -> None:
    (result,) = life["intake"].json()
    assert (result["decision"], result["stage"], result["published"]) == ("published", None, 5)
    assert result["decision_text"] == "published"


def test_trace_json_status_is_the_enum_value_and_the_sentence_is_separate(life: dict[str, Run]) -> None:
    live, purged = life["trace live"].json(), life["trace purged"].json()
    assert live["status"] == "live"
    assert live["status_text"].startswith("live in curated/")
    assert purged["status"] == "purged"
    assert "retention period ended" in purged["status_text"]
    assert "state" not in live


def test_keygen_json_carries_both_keys_and_the_public_key_file_matches(life: dict[str, Run]) -> None:
    keys = life["keygen"].json()
    assert len(keys["private_key"]) == 64
    assert Path(keys["public_key_file"]).read_text(encoding="utf-8").strip() == keys["public_key"]
    assert keys["private_key"] not in life["keygen"].stderr
    assert life["checkpoint"].json()["counts"]["published_records"] == 5


def test_hold_erasure_and_retention_json_say_what_was_done(life: dict[str, Run]) -> None:
    placed = life["hold add"].json()
    assert (placed["scope"], placed["dataset"]) == ("record", DATASET)
    assert [h["hold_id"] for h in life["hold list"].json()] == [placed["hold_id"]]
    assert life["hold remove"].json()["hold_id"] == placed["hold_id"]
    erasure = life["erasure"].json()
    assert (erasure["records"], erasure["certificates"]) == (0, None)
    assert erasure["request"]["dataset"] == DATASET
    assert [(c["purged_count"], c["status"]) for c in life["retention held"].json()] == [(4, "closed")]
    assert [c["purged_count"] for c in life["retention rest"].json()] == [1]


def test_batches_show_partly_purged_and_purged(life: dict[str, Run]) -> None:
    def states(step: str) -> list[tuple[str, int | None, int | None]]:
        return [(b["state"], b["published"], b["purged"]) for b in life[step].json()]

    assert states("batches pending") == [("pending", None, None)]
    assert states("batches partly purged") == [("partly_purged", 5, 4)]
    assert states("batches purged") == [("purged", 5, 5)]
    assert "partly purged 4/5" in life["batches partly purged text"].stdout
    assert "purged 5" in life["batches purged text"].stdout
    assert "published 5" not in life["batches purged text"].stdout


def test_demo_json_reports_the_seed_table_and_the_verify_verdict(life: dict[str, Run]) -> None:
    seed = life["demo seed"].json()
    assert (len(seed["samples"]), seed["landed"], seed["rejected"], seed["surprises"]) == (48, 17, 31, 0)
    (resale,) = [s for s in seed["samples"] if s["sample"].endswith("individual_resells_broker_list")]
    assert resale["expected_codes"] == resale["codes"] == ["provider.individual", "provider.denied"]
    report = life["demo report"].json()
    assert report["verify"]["intact"] is True
    assert report["purged_record"]["status"] == "purged"
    assert [b["state"] for b in report["batches"]] == ["purged"]


@pytest.mark.parametrize(
    ("step", "title", "last"),
    [
        pytest.param("intake", "kakunin intake run", "6/6 (100%)", id="intake"),
        pytest.param("verify", "kakunin lineage verify", "7/7 (100%) done", id="verify"),
        pytest.param("retention held", "kakunin retention run", "(100%)", id="retention"),
        pytest.param("demo seed", "kakunin demo seed", "96/96 (100%)", id="seed"),
    ],
)
def test_off_a_terminal_progress_is_plain_lines_on_stderr(
    life: dict[str, Run], step: str, title: str, last: str
) -> None:
    lines = [line for line in life[step].stderr.splitlines() if line.startswith(f"{title}: ")]
    assert len(lines) >= 2, life[step].stderr
    assert last in lines[-1]
    assert title not in life[step].stdout
    json.loads(life[step].stdout)


def test_a_tampered_store_is_not_signed_and_says_so_in_json(tmp_path: Path) -> None:
    kakunin = _runner(tmp_path / "home")
    batch = write_batch(tmp_path / "batch", document_id="PRV-2026-000001", received_on=RECEIVED_ON, rows=3, seed=1)
    assert kakunin("provenance", "submit", str(batch), *AS_OF).code == 0
    assert kakunin("intake", "run", *AS_OF).code == 0
    keys = kakunin("lineage", "keygen", "--public-key-out", str(tmp_path / "k.pub"), "--json").json()
    manifest = next((tmp_path / "home/lineage/manifests").rglob("manifest.parquet"))
    manifest.write_bytes(manifest.read_bytes()[:-10])
    env = {"KAKUNIN_SIGNING_KEY": keys["private_key"], "KAKUNIN_HMAC_KEY": ""}  # keyless: hashes only
    refused = kakunin("lineage", "checkpoint", "--json", env=env)
    assert refused.code == 1
    assert refused.json()["error"]["code"] == "not_intact"
    plain = kakunin("lineage", "checkpoint", env=env)
    assert plain.code == 1
    assert plain.stdout == ""
    assert "not signed" in plain.stderr
    verify = kakunin("lineage", "verify", "--json", env={"KAKUNIN_HMAC_KEY": ""})
    assert verify.code == 1
    assert verify.json()["intact"] is False


def error_cases() -> list[Any]:
    missing = "/nonexistent-kakunin-test/not-here"
    record = "019abef0-2300-7f64-94c4-bd404e68c655"
    return [
        pytest.param(("hold", "add", "--dataset", "nope", "--reason", "r"), "unknown_dataset", 2, id="hold-dataset"),
        pytest.param(
            ("erasure", "request", "--dataset", "nope", "--subject-key", "k", "--reason", "r"),
            "unknown_dataset",
            2,
            id="erasure-dataset",
        ),
        pytest.param(("hold", "add", "--reason", "r"), "usage", 2, id="missing-option"),
        pytest.param(("provenance", "check", missing), "input", 2, id="check-missing"),
        pytest.param(("provenance", "submit", missing), "input", 2, id="submit-missing"),
        pytest.param(("lineage", "trace", record), "input", 2, id="trace-unknown"),
        pytest.param(("intake", "run", "--batch", "nope"), "not_pending", 2, id="intake-batch"),
        pytest.param(("hold", "remove", "H-nope", "--reason", "r"), "input", 2, id="hold-remove"),
        pytest.param(("retention", "run", "--as-of", "2099-01-01"), "input", 2, id="future-as-of"),
        pytest.param(("lineage", "checkpoint"), "config", 2, id="no-signing-key"),
        pytest.param(("lineage", "keygen", "--public-key-out", "/"), "input", 2, id="keygen-exists"),
        pytest.param(("demo", "report", "--public-key", missing), "input", 2, id="report-anchors"),
    ]


@pytest.mark.parametrize(("args", "code", "exit_code"), error_cases())
def test_errors_under_json_are_json_with_the_same_exit_code(
    tmp_path: Path, args: tuple[str, ...], code: str, exit_code: int
) -> None:
    kakunin = _runner(tmp_path / "home")
    as_json = kakunin(*args, "--json")
    plain = kakunin(*args)
    assert (as_json.code, plain.code) == (exit_code, exit_code), (as_json, plain)
    error = as_json.json()["error"]
    assert error["code"] == code, error
    assert error["message"]
    assert "Traceback" not in as_json.stderr + plain.stderr
    assert plain.stdout == ""
    assert plain.stderr.strip()


def test_a_busy_retention_run_answers_json_and_exits_75(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from kakunin import leases
    from kakunin.storage import LocalStore

    kakunin = _runner(tmp_path / "home")
    lease = leases.acquire(LocalStore(tmp_path / "home"), "retention", owner="w", now=lambda: datetime.now(UTC))
    assert lease is not None
    busy = kakunin("retention", "run", *AS_OF, "--json")
    assert busy.code == 75
    assert busy.json()["error"]["code"] == "busy"
    assert "another retention run is in progress" in busy.json()["error"]["message"]
    lease.release()


def test_version_prints_the_package_and_code_versions() -> None:
    from importlib.metadata import version

    from kakunin.version import code_version

    done = subprocess.run(
        [sys.executable, "-m", "kakunin.cli", "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0
    assert done.stdout.splitlines() == [f"kakunin {version('kakunin')}", f"code: {code_version()}"]


@pytest.mark.parametrize("debug", ["", "1"])
def test_a_defect_is_an_unexpected_error_with_a_traceback_only_under_debug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], debug: str
) -> None:
    from kakunin.cli import main
    from kakunin.provenance import document

    def broken(*_args: object, **_kwargs: object) -> None:
        raise ValueError("a defect")

    monkeypatch.setattr(document, "check_path", broken)
    monkeypatch.setenv("KAKUNIN_DEBUG", debug)
    with pytest.raises(SystemExit) as exited:
        main(["provenance", "check", ".", "--json"])
    out, err = capsys.readouterr()
    assert exited.value.code == 2
    assert json.loads(out)["error"] == {
        "code": "unexpected",
        "message": "unexpected ValueError: a defect (set KAKUNIN_DEBUG=1 for details)",
    }
    assert ("Traceback" in err) is bool(debug)

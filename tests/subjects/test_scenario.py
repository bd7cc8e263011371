"""The issue's story, end to end through the real `kakunin` command, as `make run` tells it.

One person (花子) sent by two providers under two customer numbers is found by her email,
erased by her phone number written another way, and dropped when a provider sends her again;
the lineage stays intact and nothing identifies her outside the curated data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from kakunin_dev.people import HANAKO
from tests.conftest import kakunin_runner
from tests.intake.conftest import KEY


def test_one_person_from_two_providers_is_found_erased_and_refused_when_sent_again(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run = kakunin_runner(home, base_env={"KAKUNIN_HMAC_KEY": KEY.hex()})
    people = tmp_path / "people"
    written = run("demo", "people", "--out", str(people), "--json")
    assert written.code == 0, written.stderr
    for batch in ("first", "second"):
        assert run("provenance", "submit", str(people / batch)).code == 0
    first_run = run("intake", "run", "--json")
    assert first_run.code == 0, first_run.stderr
    assert [b["decision"] for b in first_run.json()] == ["published", "published"]

    found = _with_stdin(home, ["subject", "find", "--email", "-", "--json"], HANAKO.email + "\n")
    records = found["records"]
    assert len(records) == 2
    assert len({r["provider"] for r in records}) == 2  # 株式会社サンプルデータ and 株式会社架空リサーチ
    assert {r["state"] for r in records} == {"live"}

    erased = run("erasure", "request", "--phone", "+81 (0)90 1111 2222", "--reason", "REQ-2026-0042", "--json")
    assert erased.code == 0, erased.stderr
    assert erased.json()["records"] == 2
    retention = run("retention", "run")
    assert retention.code == 0, retention.stderr
    assert "2 record(s) purged" in retention.stdout

    assert run("provenance", "submit", str(people / "resent")).code == 0
    resent = run("intake", "run", "--json")
    assert resent.code == 0, resent.stderr
    (batch,) = resent.json()
    assert batch["decision"] == "published"
    assert (batch["received"], batch["published"], batch["quarantined"]) == (20, 19, 0)
    assert "subject.erased" in batch["codes"]
    listed = {b["batch_id"]: b for b in run("batches", "--json").json()}
    assert listed[batch["batch"].split("/")[1]]["erased"] == 1

    after = _with_stdin(home, ["subject", "find", "--email", "-", "--json"], HANAKO.email + "\n")
    assert len(after["records"]) == 2  # her two erased records, and nothing from the batch that sent her again
    assert {r["state"].split(" ")[0] for r in after["records"]} == {"purged"}

    verified = run("lineage", "verify")
    assert verified.code == 0, verified.stdout + verified.stderr
    for path in home.rglob("*"):
        if path.is_file() and not {"curated", "landing", "quarantine"} & set(path.relative_to(home).parts):
            data = path.read_bytes()
            assert HANAKO.email.encode() not in data, path
            assert b"09011112222" not in data, path


def _with_stdin(home: Path, args: list[str], text: str) -> Any:
    """Run the command with `text` on standard input (how staff keep an identifier out of shell history)."""
    env = {**os.environ, "KAKUNIN_HOME": str(home), "KAKUNIN_HMAC_KEY": KEY.hex()}
    done = subprocess.run(
        [sys.executable, "-m", "kakunin.cli", *args], input=text, capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)

"""The `kakunin` command as people run it: exit codes, JSON, submit into landing, batches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kakunin.version import code_version
from tests.conftest import DELETE, REPO, edits

MakeBatch = Callable[..., Path]
Kakunin = Callable[..., Any]
AS_OF = ("--as-of", "2026-11-26")


def test_check_accepted_exits_0(make_batch: MakeBatch, kakunin: Kakunin) -> None:
    run = kakunin("provenance", "check", str(make_batch()), *AS_OF)
    assert run.code == 0, run.stderr
    assert run.stdout.startswith("PRV-2026-000001: accepted")


def test_check_rejected_exits_1_and_lists_every_finding(make_batch: MakeBatch, kakunin: Kakunin) -> None:
    batch = make_batch(edits(approved_by=DELETE, notice__url=DELETE))
    run = kakunin("provenance", "check", str(batch), *AS_OF)
    assert run.code == 1
    assert "four_eyes" in run.stdout
    assert "notice.missing" in run.stdout
    assert "[APPI 24]" in run.stdout
    assert "二者確認" in run.stdout


def test_check_json_has_the_spec_shape(make_batch: MakeBatch, kakunin: Kakunin) -> None:
    run = kakunin("provenance", "check", str(make_batch(edits(approved_by="E1024"))), "--json", *AS_OF)
    assert run.code == 1
    payload = run.json()
    assert payload["document_id"] == "PRV-2026-000001"
    assert payload["decision"] == "rejected"
    assert payload["findings"] == [
        {
            "code": "four_eyes",
            "severity": "error",
            "path": "approved_by",
            "message": payload["findings"][0]["message"],
            "article": "24",
        }
    ]


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("provenance", "check", "/definitely/not/here"), id="missing-path"),
        pytest.param(("provenance", "check"), id="no-argument"),
        pytest.param(("provenance", "check", ".", "--as-of", "yesterday"), id="bad-date"),
        pytest.param(("provenance", "submit", "/definitely/not/here"), id="submit-missing"),
        pytest.param(("no-such-verb",), id="unknown-verb"),
    ],
)
def test_cannot_run_exits_2_without_a_traceback(kakunin: Kakunin, args: tuple[str, ...]) -> None:
    run = kakunin(*args)
    assert run.code == 2
    assert "Traceback" not in run.stderr + run.stdout
    assert run.stderr.strip()


def test_a_broken_contract_names_file_and_field(make_batch: MakeBatch, kakunin: Kakunin, tmp_path: Path) -> None:
    expectations = tmp_path / "expectations"
    (expectations / "jp_customer_leads").mkdir(parents=True)
    (expectations / "purposes.yaml").write_bytes((REPO / "expectations/purposes.yaml").read_bytes())
    contract = (REPO / "expectations/jp_customer_leads/contract.yaml").read_text(encoding="utf-8")
    broken = contract.replace("max_failed_row_ratio: 0.01", "max_failed_row_ratio: lots")
    (expectations / "jp_customer_leads/contract.yaml").write_text(broken, encoding="utf-8")
    run = kakunin("provenance", "check", str(make_batch()), env={"KAKUNIN_EXPECTATIONS": str(expectations)})
    assert run.code == 2
    assert "contract.yaml: max_failed_row_ratio:" in run.stderr
    assert "Traceback" not in run.stderr


def test_submit_lands_an_accepted_batch_and_prints_its_id(make_batch: MakeBatch, kakunin: Kakunin) -> None:
    batch = make_batch()
    (batch / "notes-from-provider.txt").write_text("not cited anywhere", encoding="utf-8")
    run = kakunin("provenance", "submit", str(batch), *AS_OF)
    assert run.code == 0, run.stdout + run.stderr
    batch_id = run.stdout.split("landed as batch ")[1].split()[0]
    landed = kakunin.home / "landing" / "jp_customer_leads" / batch_id  # type: ignore[attr-defined]
    copied = sorted(p.relative_to(landed).as_posix() for p in landed.rglob("*") if p.is_file())
    submission = json.loads((landed / "_submission.json").read_text(encoding="utf-8"))
    assert sorted(f["path"] for f in submission["files"]) == [
        "data.csv",
        "evidence/consent-screens.pdf",
        "evidence/contract-2026.pdf",
        "evidence/dpa-sub.pdf",
        "evidence/dpa.pdf",
        "evidence/privacy-notice.pdf",
        "provenance.yaml",
    ]
    assert copied == sorted(["_submission.json", *(f["key"] for f in submission["files"])])
    for stored in submission["files"]:
        assert (landed / stored["key"]).read_bytes() == (batch / stored["path"]).read_bytes()
        if stored["path"].startswith("evidence/"):
            assert stored["key"] == f"evidence/{stored['sha256']}"
    assert submission["document_id"] == "PRV-2026-000001"
    assert "not copied" in run.stdout
    assert "notes-from-provider.txt" in run.stdout
    assert (batch / "data.csv").exists(), "submitting must not move the employee's files"


def test_submit_accepts_a_relative_batch_path(make_batch: MakeBatch, kakunin: Kakunin) -> None:
    batch = make_batch()
    run = kakunin("provenance", "submit", batch.name, *AS_OF, cwd=batch.parent)
    assert run.code == 0, run.stdout + run.stderr
    assert "landed as batch" in run.stdout


def test_submit_does_not_land_a_rejected_batch(make_batch: MakeBatch, kakunin: Kakunin) -> None:
    run = kakunin("provenance", "submit", str(make_batch(edits(attestations__no_payment_card_data=False))), *AS_OF)
    assert run.code == 1
    assert "attestation.red_flag" in run.stdout
    assert not (kakunin.home / "landing").exists()  # type: ignore[attr-defined]
    rejections = list((kakunin.home / "quarantine").rglob("rejection.json"))  # type: ignore[attr-defined]
    assert len(rejections) == 1
    assert "data.csv" not in {p.name for p in rejections[0].parent.iterdir()}


def test_submit_without_a_data_file_cannot_run(make_batch: MakeBatch, kakunin: Kakunin) -> None:
    batch = make_batch()
    (batch / "data.csv").unlink()
    run = kakunin("provenance", "submit", str(batch), *AS_OF)
    assert run.code == 2
    assert "no data file" in run.stderr


def test_a_document_id_cannot_be_used_twice(make_batch: MakeBatch, kakunin: Kakunin) -> None:
    assert kakunin("provenance", "submit", str(make_batch(document_id="PRV-2026-123456")), *AS_OF).code == 0
    again = kakunin("provenance", "submit", str(make_batch(document_id="PRV-2026-123456")), *AS_OF)
    assert again.code == 1
    assert "already used by batch" in again.stdout


def test_batches_lists_every_submission_with_state_and_codes(make_batch: MakeBatch, kakunin: Kakunin) -> None:
    assert kakunin("batches").stdout.strip() == "no batches yet"
    kakunin("provenance", "submit", str(make_batch()), *AS_OF)
    kakunin("provenance", "submit", str(make_batch(edits(retention__period="P9Y"))), *AS_OF)
    legal_obligation = edits(legal_ground="legal_obligation", legal_obligation={"law": "法", "evidence": ["dpa-sub"]})
    kakunin("provenance", "submit", str(make_batch(legal_obligation)), *AS_OF)
    run = kakunin("batches", "--json")
    assert run.code == 0
    listed = [(b["document_id"], b["state"], b["reason_codes"]) for b in run.json()]
    assert listed == [
        ("PRV-2026-000001", "pending", []),
        ("PRV-2026-000002", "rejected", ["retention.invalid"]),
        ("PRV-2026-000003", "pending", ["ground.review"]),
    ]
    assert "retention.invalid" in kakunin("batches").stdout


def test_demo_prints_the_decision_table(kakunin: Kakunin) -> None:
    run = kakunin("demo", "seed", "--rows", "3")
    assert run.code == 0, run.stderr
    assert "Provenance gate decisions (48 sample batches)" in run.stdout
    assert "17 landed, 31 rejected" in run.stdout
    assert " NO" not in run.stdout


def test_demo_seed_without_the_dev_tools_says_how_to_get_them(tmp_path: Path) -> None:
    # as in a runtime install: the folder holding kakunin_dev (dev/, put there by make install) is off sys.path
    probe = (
        "import sys; from importlib.util import find_spec; from pathlib import Path; "
        "dev = str(Path(find_spec('kakunin_dev').origin).parents[1]); "
        "sys.path[:] = [p for p in sys.path if p != dev]; "
        "from kakunin.cli import main; main(['demo', 'seed'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "KAKUNIN_HOME": str(tmp_path / "home")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == "error: the demo needs the dev tools (kakunin_dev): run `make install` in a checkout\n"
    assert done.stdout == ""
    assert not (tmp_path / "home" / "samples").exists()


HMAC = {"KAKUNIN_HMAC_KEY": "cd" * 32}


def test_intake_without_a_key_stops_with_a_clear_message(make_batch: MakeBatch, kakunin: Kakunin) -> None:
    assert kakunin("provenance", "submit", str(make_batch()), *AS_OF).code == 0
    run = kakunin("intake", "run", env={"KAKUNIN_HMAC_KEY": ""})
    assert run.code == 2
    assert "KAKUNIN_HMAC_KEY is not set" in run.stderr
    assert "Traceback" not in run.stderr
    assert kakunin("batches", "--json").json()[0]["state"] == "pending", "nothing is lost"


def test_intake_trace_and_verify_from_the_command_line(make_batch: MakeBatch, kakunin: Kakunin) -> None:
    assert kakunin("provenance", "submit", str(make_batch()), *AS_OF).code == 0
    run = kakunin("intake", "run", "--json", *AS_OF, env=HMAC)
    assert run.code == 0, run.stderr
    (result,) = run.json()
    assert (result["decision"], result["published"]) == ("published", 5)
    listed = kakunin("batches", "--json").json()
    assert [(b["state"], b["published"]) for b in listed] == [("published", 5)]
    manifest = next((kakunin.home / "lineage/manifests").rglob("manifest.parquet"))  # type: ignore[attr-defined]
    import pyarrow.parquet as pq

    record_id = pq.read_table(manifest).column("record_id")[0].as_py()
    header = json.loads((manifest.parent / "manifest.json").read_text(encoding="utf-8"))
    assert header["code_version"] == code_version()
    story = kakunin("lineage", "trace", record_id, "--json", env=HMAC)
    assert story.code == 0, story.stderr
    assert story.json()["digest_check"].startswith("matches")
    assert kakunin("lineage", "trace", "019abef0-2300-7f64-94c4-bd404e68c655").code == 2
    keyed = kakunin("lineage", "verify", env=HMAC)
    assert keyed.code == 0, keyed.stdout
    assert keyed.stdout.startswith("mode: keyed")
    verified = kakunin("lineage", "verify")
    assert verified.code == 0
    assert verified.stdout.splitlines()[0].startswith("mode: keyless")
    assert verified.stdout.splitlines()[1].startswith("intact")
    unsealed = kakunin("lineage", "verify", "--json", env=HMAC)  # the keyless verify logged an unsealed entry
    assert unsealed.code == 1
    assert [(p["check"], p["where"].split("/")[-2]) for p in unsealed.json()["problems"]] == [("seal", "log")]
    assert kakunin("lineage", "verify", "--keyless", env=HMAC).code == 0
    manifest.write_bytes(manifest.read_bytes()[:-10])
    broken = kakunin("lineage", "verify", "--json")
    assert broken.code == 1
    assert broken.json()["intact"] is False


def test_retention_hold_and_erasure_from_the_command_line(make_batch: MakeBatch, kakunin: Kakunin) -> None:
    assert kakunin("provenance", "submit", str(make_batch()), *AS_OF).code == 0
    assert kakunin("intake", "run", *AS_OF, env=HMAC).code == 0
    import pyarrow.parquet as pq

    manifest = next((kakunin.home / "lineage/manifests").rglob("manifest.parquet"))  # type: ignore[attr-defined]
    ids = pq.read_table(manifest).column("record_id").to_pylist()
    held = kakunin("hold", "add", "--dataset", "jp_customer_leads", "--record", ids[0], "--reason", "litigation")
    assert held.code == 0, held.stderr
    hold_id = held.stdout.split(":")[0]
    assert hold_id in kakunin("hold", "list").stdout
    assert kakunin("hold", "add", "--dataset", "jp_customer_leads", "--record", "../x", "--reason", "r").code == 2
    preview = kakunin("retention", "run", "--as-of", "2030-01-01", "--dry-run", "--json")
    assert preview.code == 0
    assert [(r["records"], r["held"]) for r in preview.json()["rows"]] == [(4, 1)]
    assert len(list((kakunin.home / "curated").rglob("part-*.parquet"))) == 1  # type: ignore[attr-defined]
    run = kakunin("retention", "run", "--as-of", "2030-01-01", "--allow-future-as-of")
    assert run.code == 0, run.stderr
    assert "4 record(s) purged" in run.stdout
    assert "retained by" in run.stdout
    assert "litigation" in run.stdout
    assert kakunin("lineage", "verify").code == 0
    story = kakunin("lineage", "trace", ids[1], "--json").json()
    assert story["purged_by"]
    assert story["status"] == "purged"
    assert "retention period ended" in story["status_text"]
    assert kakunin("hold", "remove", hold_id, "--reason", "settled").code == 0
    assert kakunin("hold", "remove", hold_id, "--reason", "again").code == 2


def test_erasure_request_reads_the_key_from_stdin_and_needs_the_hmac_key(
    make_batch: MakeBatch, kakunin: Kakunin
) -> None:
    assert kakunin("provenance", "submit", str(make_batch()), *AS_OF).code == 0
    assert kakunin("intake", "run", *AS_OF, env=HMAC).code == 0
    import pyarrow.parquet as pq

    curated = next((kakunin.home / "curated").rglob("part-*.parquet"))  # type: ignore[attr-defined]
    customer_no = pq.read_table(curated).column("customer_no")[0].as_py()
    args = ("erasure", "request", "--dataset", "jp_customer_leads", "--subject-key", "-", "--reason", "ref 7")
    assert kakunin(*args, env={"KAKUNIN_HMAC_KEY": ""}).code == 2
    done = subprocess_with_stdin(kakunin, [*args, "--now"], customer_no + "\n", env=HMAC)
    assert done.returncode == 0, done.stderr
    assert "1 record(s) of this subject" in done.stdout
    assert "1 record(s) purged" in done.stdout
    audit = b"".join(p.read_bytes() for p in (kakunin.home / "audit").rglob("*.json"))  # type: ignore[attr-defined]
    assert customer_no.encode() not in audit


def subprocess_with_stdin(kakunin: Kakunin, args: list[str], text: str, env: dict[str, str]) -> Any:
    import os
    import subprocess
    import sys

    full_env = {**os.environ, "KAKUNIN_HOME": str(kakunin.home), **env}  # type: ignore[attr-defined]
    return subprocess.run(
        [sys.executable, "-m", "kakunin.cli", *args],
        input=text,
        capture_output=True,
        text=True,
        env=full_env,
        check=False,
    )


def _write_deeply_nested(batch: Path, depth: int) -> None:
    """Rewrite the batch's document with `provider.extra` nested `depth` mappings deep (compact text)."""
    (document,) = [p for p in batch.iterdir() if p.name.startswith("provenance.")]
    deep = '{"a": ' * depth + '"end"' + "}" * depth
    if document.suffix == ".json":
        doc = json.loads(document.read_text(encoding="utf-8"))
        doc["provider"]["extra"] = "DEEP"
        text = json.dumps(doc, ensure_ascii=False).replace('"DEEP"', deep)
    else:
        text = document.read_text(encoding="utf-8") + f"deep_extra: {deep}\n"
    document.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("depth", "as_json"),
    [
        pytest.param(500, True, id="json-500"),
        pytest.param(900, True, id="json-900"),
        pytest.param(900, False, id="yaml-900"),
    ],
)
def test_a_deeply_nested_document_is_a_schema_finding(
    make_batch: MakeBatch, kakunin: Kakunin, depth: int, as_json: bool
) -> None:
    batch = make_batch(as_json=as_json)
    _write_deeply_nested(batch, depth)
    check = kakunin("provenance", "check", str(batch), "--json", *AS_OF)
    assert check.code == 1, check.stderr
    assert "Traceback" not in check.stderr
    assert [f["code"] for f in check.json()["findings"]] == ["schema"]
    assert "nested too deeply" in check.json()["findings"][0]["message"]
    submit = kakunin("provenance", "submit", str(batch), *AS_OF)
    assert submit.code == 1, submit.stderr
    assert "nested too deeply" in submit.stdout
    (rejection,) = (kakunin.home / "quarantine").rglob("rejection.json")  # type: ignore[attr-defined]
    assert "nested too deeply" in rejection.read_text(encoding="utf-8")


def test_a_linked_document_outside_the_batch_is_refused(
    make_batch: MakeBatch, kakunin: Kakunin, tmp_path: Path
) -> None:
    batch = make_batch()
    outside = tmp_path / "elsewhere.yaml"
    (batch / "provenance.yaml").rename(outside)
    (batch / "provenance.yaml").symlink_to(outside)
    for verb in ("check", "submit"):
        run = kakunin("provenance", verb, str(batch), *AS_OF)
        assert run.code == 2, (verb, run.stdout)
        assert "must be a regular file, not a link" in run.stderr
        assert "Traceback" not in run.stderr
    direct = kakunin("provenance", "check", str(batch / "provenance.yaml"), *AS_OF)
    assert direct.code == 2
    assert not (kakunin.home / "landing").exists()  # type: ignore[attr-defined]


def test_evidence_named_outside_store_keys_is_submitted_whole(make_batch: MakeBatch, kakunin: Kakunin) -> None:
    def rename(doc: dict[str, Any], batch: Path) -> None:
        for entry, name in zip(doc["evidence"][:2], ["契約書2026.pdf", "contract (signed).pdf"], strict=True):
            (batch / entry["file"]).rename(batch / "evidence" / name)
            entry["file"] = f"evidence/{name}"

    batch = make_batch(rename)
    assert kakunin("provenance", "check", str(batch), *AS_OF).code == 0
    run = kakunin("provenance", "submit", str(batch), *AS_OF)
    assert run.code == 0, run.stdout + run.stderr
    (landed,) = (kakunin.home / "landing" / "jp_customer_leads").iterdir()  # type: ignore[attr-defined]
    submission = json.loads((landed / "_submission.json").read_text(encoding="utf-8"))
    assert {"evidence/契約書2026.pdf", "evidence/contract (signed).pdf"} <= {f["path"] for f in submission["files"]}
    assert [b["state"] for b in kakunin("batches", "--json").json()] == ["pending"]
    assert kakunin("intake", "run", *AS_OF, env=HMAC).code == 0
    assert [b["state"] for b in kakunin("batches", "--json").json()] == ["published"]
    assert not list((kakunin.home / "landing").rglob("*.*"))  # type: ignore[attr-defined]


def test_a_retention_run_while_another_holds_the_lease_exits_75_and_does_nothing(
    make_batch: MakeBatch, kakunin: Kakunin
) -> None:
    from datetime import UTC, datetime

    from kakunin import leases
    from kakunin.storage import LocalStore

    assert kakunin("provenance", "submit", str(make_batch()), *AS_OF).code == 0
    assert kakunin("intake", "run", *AS_OF, env=HMAC).code == 0
    store = LocalStore(kakunin.home)  # type: ignore[attr-defined]
    lease = leases.acquire(store, "retention", owner="other-worker", now=lambda: datetime.now(UTC))
    assert lease is not None
    busy = kakunin("retention", "run", "--as-of", "2026-11-26")
    assert busy.code == 75
    assert "another retention run is in progress" in busy.stderr
    assert "other-worker" in busy.stderr
    assert "Traceback" not in busy.stderr
    assert not list((kakunin.home / "lineage").rglob("PC-*"))  # type: ignore[attr-defined]
    lease.release()
    assert kakunin("retention", "run", "--as-of", "2026-11-26").code == 0


def test_holds_name_only_what_exists_and_releases_need_a_reason(make_batch: MakeBatch, kakunin: Kakunin) -> None:
    assert kakunin("provenance", "submit", str(make_batch()), *AS_OF).code == 0
    assert kakunin("intake", "run", *AS_OF, env=HMAC).code == 0
    import pyarrow.parquet as pq

    batch_id = kakunin("batches", "--json").json()[0]["batch_id"]
    manifest = next((kakunin.home / "lineage/manifests").rglob("manifest.parquet"))  # type: ignore[attr-defined]
    record_id = pq.read_table(manifest).column("record_id")[0].as_py()
    hold = ("hold", "add", "--reason", "litigation")
    refused = [
        kakunin(*hold, "--dataset", "no_such_dataset"),
        kakunin(*hold, "--dataset", "jp_customer_leads", "--batch", "20261120T000000000000Z-00000000"),
        kakunin(*hold, "--dataset", "jp_customer_leads", "--record", "019abef0-2300-7f64-94c4-bd404e68c655"),
    ]
    assert [r.code for r in refused] == [2, 2, 2]
    assert "no_such_dataset" in refused[0].stderr
    assert "no batch" in refused[1].stderr
    assert "in no manifest" in refused[2].stderr
    assert not any("Traceback" in r.stderr for r in refused)
    assert "no holds" in kakunin("hold", "list").stdout
    placed = [
        kakunin(*hold, "--dataset", "jp_customer_leads", "--batch", batch_id),
        kakunin(*hold, "--dataset", "jp_customer_leads", "--record", record_id),
    ]
    assert [p.code for p in placed] == [0, 0], [p.stderr for p in placed]
    hold_id = placed[0].stdout.split(":")[0]
    blank = kakunin("hold", "remove", hold_id, "--reason", "  ")
    assert blank.code == 2
    assert "reason" in blank.stderr
    assert hold_id in kakunin("hold", "list").stdout, "the hold still stands"


def test_a_future_as_of_needs_an_explicit_flag_and_is_recorded(make_batch: MakeBatch, kakunin: Kakunin) -> None:
    assert kakunin("provenance", "submit", str(make_batch()), *AS_OF).code == 0
    assert kakunin("intake", "run", *AS_OF, env=HMAC).code == 0
    future = ("retention", "run", "--as-of", "2099-01-01")
    refused = kakunin(*future)
    assert refused.code == 2
    assert "--allow-future-as-of" in refused.stderr
    assert len(list((kakunin.home / "curated").rglob("part-*.parquet"))) == 1  # type: ignore[attr-defined]
    assert kakunin(*future, "--dry-run").code == 0, "a preview destroys nothing"
    allowed = kakunin(*future, "--allow-future-as-of", "--json")
    assert allowed.code == 0, allowed.stderr
    (certificate,) = allowed.json()
    assert certificate["future_as_of"] is True
    assert certificate["purged_count"] == 5
    audit = [json.loads(p.read_text()) for p in sorted((kakunin.home / "audit").rglob("*.json"))]  # type: ignore[attr-defined]
    (opened,) = [e for e in audit if e["action"] == "purge-open"]
    assert opened["detail"]["future_as_of"] is True

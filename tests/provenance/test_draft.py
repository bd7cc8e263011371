"""`kakunin provenance draft`: a starting v2 document with every evidence file hashed, so staff type no hashes."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from kakunin.contracts import Registry
from kakunin.provenance.document import judge, validate_mapping
from kakunin.provenance.draft import draft_document, draft_text, evidence_id_for, guess_kind, list_evidence_files
from kakunin.provenance.upgrade import todo_paths
from kakunin.yaml_io import parse_mapping
from tests.conftest import RECEIVED_ON, TODAY, Run
from tests.provenance.test_upgrade import set_at, value_at
from tests.provenance.v2 import EVIDENCE, GROUNDS, good_v2, write_v2

Kakunin = Callable[..., Run]
FILES = {
    "evidence/contract-2026.pdf": b"%PDF-1.4 contract",
    "evidence/同意画面 2026.pdf": b"%PDF-1.4 consent screens, larger " * 100,
    "evidence/notices/privacy-policy.pdf": b"",
}


def _folder(root: Path) -> Path:
    for name, content in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return root


def test_draft_hashes_every_evidence_file_and_takes_data_items_from_the_contract(
    kakunin: Kakunin, tmp_path: Path, registry: Registry
) -> None:
    batch = _folder(tmp_path / "batch")
    run = kakunin("provenance", "draft", str(batch), "--dataset", "jp_customer_leads")
    assert run.code == 0, run.stderr
    assert run.stdout == ""
    text = (batch / "provenance.yaml").read_text(encoding="utf-8")
    draft = parse_mapping(text)
    by_file = {e["file"]: e for e in draft["evidence"]}
    assert set(by_file) == set(FILES)
    for name, content in FILES.items():
        assert by_file[name]["sha256"] == hashlib.sha256(content).hexdigest()
        assert re.search(rf"{re.escape(name)}, sha256: \w+}}  # {len(content):,} bytes$", text, re.MULTILINE)
    assert [(e["id"], e["kind"]) for e in draft["evidence"]] == [
        ("contract-2026", "contract"),
        ("privacy-policy", "privacy_notice"),
        ("2026", "consent_record"),
    ]
    contract = registry.contract("jp_customer_leads")
    assert contract is not None
    assert draft["data_items"] == [{"column": c.name, "category": c.category} for c in contract.personal_columns]
    assert draft["kind"] == "kakunin.provenance/v2"
    assert draft["document_id"].startswith("TODO")
    assert "document_id" in run.stderr
    assert "wrote" in run.stderr

    again = kakunin("provenance", "draft", str(batch))  # a document exists now: printed, not overwritten
    assert again.code == 0
    assert "already holds a provenance document" in again.stderr
    assert parse_mapping(again.stdout)["dataset"].startswith("TODO")
    assert (batch / "provenance.yaml").read_text(encoding="utf-8") == text


@pytest.mark.parametrize("ground", GROUNDS)
def test_a_draft_with_its_todos_filled_in_is_accepted(tmp_path: Path, v2_registry: Registry, ground: str) -> None:
    batch = write_v2(tmp_path / "batch", ground)
    (batch / "provenance.yaml").unlink()
    good = good_v2(ground)
    contract = v2_registry.contract(good["dataset"])
    evidence = list_evidence_files(batch)
    draft = draft_document(
        evidence=evidence, dataset=good["dataset"], contract=contract, received_on=RECEIVED_ON, ground=ground
    )
    document = parse_mapping(draft_text(draft, sizes={e.file: e.size for e in evidence}, source="batch"))
    assert [e["sha256"] for e in document["evidence"]] == [
        hashlib.sha256((batch / e.file).read_bytes()).hexdigest() for e in evidence
    ]
    for path in todo_paths(document):
        try:
            set_at(document, path, _good_value(good, document, path))
        except KeyError:  # a field this ground's good document does not have: "else delete"
            del value_at(document, path.rsplit(".", 1)[0])[path.rsplit(".", 1)[1]]
    verdict = judge(validate_mapping(document), batch_dir=batch, registry=v2_registry, today=TODAY)
    assert verdict.error_codes == [], [f"{f.path}: {f.message}" for f in verdict.findings]


def _good_value(good: dict[str, Any], draft: dict[str, Any], path: str) -> Any:
    if match := re.fullmatch(r"evidence\[(\d+)\]\.kind", path):
        return EVIDENCE[draft["evidence"][int(match[1])]["id"]]  # only request-letter.pdf says nothing of its kind
    return value_at(good, path)


@pytest.mark.parametrize(
    ("file", "taken", "expected"),
    [
        pytest.param("evidence/contract-2026.pdf", set(), "contract-2026", id="plain"),
        pytest.param("evidence/contract 2026 (final).pdf", set(), "contract-2026-final", id="spaces-and-brackets"),
        pytest.param("evidence/契約書.pdf", {"evidence-1"}, "evidence-2", id="no-ascii"),
        pytest.param("evidence/b/dpa.pdf", {"dpa"}, "dpa-2", id="taken"),
    ],
)
def test_evidence_ids_come_from_file_names(file: str, taken: set[str], expected: str) -> None:
    assert evidence_id_for(file, taken) == expected


@pytest.mark.parametrize(
    ("file", "kind"),
    [
        ("委託契約書.pdf", "dpa"),
        ("PPC-filing.pdf", "ppc_filing"),
        ("consent-screens.pdf", "consent_record"),
        ("プライバシーポリシー.pdf", "privacy_notice"),
        ("security-review-2026.pdf", "security_review"),
        ("transfer-agreement.pdf", "foreign_transfer"),
        ("データ提供契約書.pdf", "contract"),
        ("scan-0001.pdf", None),
    ],
)
def test_the_kind_is_guessed_only_when_the_name_says_it(file: str, kind: str | None) -> None:
    guessed = guess_kind(file)
    assert (guessed.value if guessed else None) == kind


def test_entrusted_data_gets_its_only_purpose_and_no_notice(v2_registry: Registry) -> None:
    draft = draft_document(
        evidence=[],
        dataset="jp_entrusted_mailing",
        contract=v2_registry.contract("jp_entrusted_mailing"),
        received_on=date(2026, 11, 20),
        ground="entrustment",
    )
    assert draft["purposes"] == ["entrusted_processing"]
    assert "notice" not in draft
    assert set(draft["entrustment"]) == {"client", "scope", "return_by", "evidence"}


def _link(batch: Path) -> None:
    (batch / "evidence" / "outside.pdf").symlink_to(batch.parent / "secret.pdf")


def _not_a_folder(batch: Path) -> None:
    (batch.parent / "file").write_text("x", encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "prepare", "message"),
    [
        pytest.param((), _link, "evidence/outside.pdf: is a link", id="evidence-link"),
        pytest.param(("--dataset", "nope"), None, "unknown dataset 'nope'", id="unknown-dataset"),
        pytest.param(("--ground", "gift"), None, "Invalid value for '--ground'", id="unknown-ground"),
        pytest.param(("--received-on", "2026-13-01"), None, "Invalid value for '--received-on'", id="bad-date"),
        pytest.param(("--out", "{batch}/contract-2026.pdf"), None, "", id="existing-out"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    kakunin: Kakunin, tmp_path: Path, args: tuple[str, ...], prepare: Any, message: str
) -> None:
    batch = _folder(tmp_path / "batch")
    (tmp_path / "secret.pdf").write_bytes(b"not in the batch")
    (batch / "contract-2026.pdf").write_bytes(b"keep")
    if prepare is not None:
        prepare(batch)
    run = kakunin("provenance", "draft", str(batch), *(a.format(batch=batch) for a in args))
    assert run.code == 2
    assert (message or "already exists; pass --force") in run.stderr
    assert "Traceback" not in run.stderr
    assert not (batch / "provenance.yaml").exists()
    assert (batch / "contract-2026.pdf").read_bytes() == b"keep"


def test_a_path_that_is_not_a_folder_is_refused(kakunin: Kakunin, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x", encoding="utf-8")
    for path in (tmp_path / "file", tmp_path / "missing"):
        run = kakunin("provenance", "draft", str(path))
        assert run.code == 2
        assert "not a batch folder" in run.stderr


def test_draft_json_lists_each_evidence_file_with_its_hash_and_size(kakunin: Kakunin, tmp_path: Path) -> None:
    batch = _folder(tmp_path / "batch")
    out = tmp_path / "draft.yaml"
    run = kakunin("provenance", "draft", str(batch), "--out", str(out), "--json")
    assert run.code == 0, run.stderr
    report = run.json()
    assert report["out"] == str(out)
    assert "document" not in report
    assert {f["file"]: (f["sha256"], f["size"]) for f in report["evidence_files"]} == {
        name: (hashlib.sha256(content).hexdigest(), len(content)) for name, content in FILES.items()
    }
    assert "dataset" in report["todos"]
    assert not (batch / "provenance.yaml").exists()
    assert parse_mapping(out.read_text(encoding="utf-8"))["kind"] == "kakunin.provenance/v2"

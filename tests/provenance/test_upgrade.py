"""`kakunin provenance upgrade`: a v1 document becomes v2, failing exactly where a person must fill in a TODO.

Each case starts from the good v2 document of a ground, strips what v1 never had (the
chain's collector, `received_by`, `opt_out.items`, the ground's block, contractor
countries), upgrades it, and judges it: the errors must sit exactly at the TODO paths.
Filling each TODO with the good document's value must then make it pass.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kakunin.codes import Severity
from kakunin.contracts import Registry
from kakunin.provenance.document import judge, validate_mapping
from kakunin.provenance.findings import Verdict
from kakunin.provenance.upgrade import todo_paths, upgrade_mapping
from kakunin.yaml_io import dump_yaml, parse_mapping
from tests.conftest import TODAY, Run
from tests.provenance.v2 import GROUNDS, PERSONAL, good_v2, write_v2

Kakunin = Callable[..., Run]
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def as_v1(doc: dict[str, Any]) -> None:
    """What the same facts looked like in v1: no collector, received_by, items, ground block or country."""
    doc["kind"] = "kakunin.provenance/v1"
    acquisition = doc["acquisition"]
    acquisition.pop("received_by", None)
    acquisition["upstream"] = [h for h in acquisition["upstream"] if h["legal_ground"] != "collected"]
    if "opt_out" in doc:
        del doc["opt_out"]["items"]
    for block in ("entrustment", "joint_use", "succession", "legal_obligation"):
        doc.pop(block, None)
    for contractor in doc["contractors"]:
        contractor.pop("country", None)


def steps(path: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _STEP.findall(path)]


def value_at(doc: Any, path: str) -> Any:
    for step in steps(path):
        doc = doc[step]
    return doc


def set_at(doc: Any, path: str, value: Any) -> None:
    *parents, last = steps(path)
    for step in parents:
        doc = doc[step]
    doc[last] = value


def judged(doc: dict[str, Any], batch: Path, registry: Registry) -> Verdict:
    return judge(validate_mapping(parse_mapping(dump_yaml(doc))), batch_dir=batch, registry=registry, today=TODAY)


def errors(verdict: Verdict) -> set[str]:
    return {f.path for f in verdict.findings if f.severity is Severity.ERROR}


# Checks that compare the batch against a list still reading TODO also fire, at the batch's own field:
# the gate cannot tell "not among the purposes" from "the purposes are not filled in yet".
ECHOES: dict[str, set[str]] = {
    "business_succession": {"purposes[0]"},
    "joint_use": {"purposes[0]"} | {f"data_items[{i}].category" for i in range(len(PERSONAL))},
}


@pytest.mark.parametrize("ground", GROUNDS)
def test_an_upgraded_v1_document_fails_exactly_on_its_todos_until_they_are_filled(
    tmp_path: Path, v2_registry: Registry, ground: str
) -> None:
    batch = write_v2(tmp_path / "batch", ground, as_v1)
    v1 = parse_mapping((batch / "provenance.yaml").read_text(encoding="utf-8"))
    upgraded = upgrade_mapping(v1)
    assert upgraded.document["kind"] == "kakunin.provenance/v2"
    assert upgraded.todos == todo_paths(upgraded.document)
    if ground in ("consent",):
        assert upgraded.todos == []
    else:
        assert upgraded.todos, "every other ground needs a v2 block"

    verdict = judged(upgraded.document, batch, v2_registry)
    derived = ECHOES.get(ground, set())
    assert errors(verdict) == set(upgraded.todos) | derived, [f.path + " " + f.message for f in verdict.findings]
    assert all("fill in" in f.message for f in verdict.findings if f.path not in derived and f.severity == "error")

    good = good_v2(ground)
    for path in upgraded.todos:
        set_at(upgraded.document, path, value_at(good, path))
    filled = judged(upgraded.document, batch, v2_registry)
    assert errors(filled) == set(), [f.path + " " + f.message for f in filled.findings]


def _env(registry: Registry) -> dict[str, str]:
    return {"KAKUNIN_EXPECTATIONS": str(registry.root)}


def test_upgrade_command_writes_v2_lists_todos_and_leaves_the_original(
    kakunin: Kakunin, tmp_path: Path, v2_registry: Registry
) -> None:
    batch = write_v2(tmp_path / "batch", "opt_out", as_v1)
    original = (batch / "provenance.yaml").read_bytes()
    out = batch / "provenance-v2.yaml"

    run = kakunin("provenance", "upgrade", str(batch), "--out", str(out), env=_env(v2_registry))

    assert run.code == 0, run.stderr
    assert run.stdout == ""
    assert (batch / "provenance.yaml").read_bytes() == original
    text = out.read_text(encoding="utf-8")
    assert "株式会社サンプルデータ" in text
    assert "名簿の購入" in text
    upgraded = parse_mapping(text)
    v1 = parse_mapping(original.decode())
    assert [k for k in upgraded if k in v1] == list(v1)  # the original key order survives
    todos = ["acquisition.received_by", *(f"acquisition.upstream[0].{k}" for k in _COLLECTOR_TODOS), "opt_out.items"]
    assert run.stderr.split("\n")[1:-1] == [f"  {p}" for p in todos]

    check = kakunin("provenance", "check", str(out), "--json", "--as-of", "2026-11-26", env=_env(v2_registry))
    assert check.code == 1
    assert sorted(f["path"] for f in check.json()["findings"]) == sorted(todos)


_COLLECTOR_TODOS = ("legal_name", "address", "collection_method", "evidence")


def test_upgrade_to_stdout_and_refusals_of_out(kakunin: Kakunin, tmp_path: Path, v2_registry: Registry) -> None:
    batch = write_v2(tmp_path / "batch", "legal_obligation", as_v1)
    doc = batch / "provenance.yaml"
    printed = kakunin("provenance", "upgrade", str(doc), env=_env(v2_registry))
    assert printed.code == 0
    assert parse_mapping(printed.stdout)["legal_obligation"] == {"law": "TODO: 根拠法令", "evidence": "TODO: [ids]"}

    taken = tmp_path / "taken.yaml"
    taken.write_text("keep me", encoding="utf-8")
    refused = kakunin("provenance", "upgrade", str(doc), "--out", str(taken))
    assert (refused.code, taken.read_text(encoding="utf-8")) == (2, "keep me")
    assert "already exists; pass --force" in refused.stderr
    forced = kakunin("provenance", "upgrade", str(doc), "--out", str(taken), "--force")
    assert forced.code == 0
    assert parse_mapping(taken.read_text(encoding="utf-8"))["kind"] == "kakunin.provenance/v2"

    over_itself = kakunin("provenance", "upgrade", str(doc), "--out", str(doc), "--force")
    assert over_itself.code == 2
    assert "is the document being upgraded" in over_itself.stderr
    assert parse_mapping(doc.read_text(encoding="utf-8"))["kind"] == "kakunin.provenance/v1"


def test_a_v2_document_is_written_unchanged(kakunin: Kakunin, tmp_path: Path) -> None:
    batch = write_v2(tmp_path / "batch", "consent")
    run = kakunin("provenance", "upgrade", str(batch))
    assert run.code == 0
    assert run.stdout == (batch / "provenance.yaml").read_text(encoding="utf-8")
    assert "already kakunin.provenance/v2" in run.stderr


def test_a_json_document_upgrades_to_json(kakunin: Kakunin, tmp_path: Path) -> None:
    v1 = good_v2("opt_out")
    as_v1(v1)
    source = tmp_path / "provenance.json"
    source.write_text(json.dumps(v1, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out" / "provenance.json"
    out.parent.mkdir()
    run = kakunin("provenance", "upgrade", str(source), "--out", str(out))
    assert run.code == 0, run.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["opt_out"]["items"] == "TODO: [categories] as filed with the PPC"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(None, "no such file or folder", id="missing"),
        pytest.param("kind: [unclosed", "not valid YAML", id="not-yaml"),
        pytest.param("- a list", "expected a mapping", id="not-a-mapping"),
        pytest.param("kind: kakunin.provenance/v9\n", "kind must be 'kakunin.provenance/v1'", id="unknown-kind"),
        pytest.param("dataset: x\n", "found None", id="no-kind"),
        pytest.param(b"\xff\xfe kind", "not UTF-8", id="not-utf8"),
    ],
)
def test_bad_input_exits_2_with_a_message(kakunin: Kakunin, tmp_path: Path, content: Any, message: str) -> None:
    path = tmp_path / "provenance.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    run = kakunin("provenance", "upgrade", str(path))
    assert run.code == 2
    assert message in run.stderr
    assert run.stderr.startswith("error: ")
    assert "Traceback" not in run.stderr + run.stdout


def test_a_folder_without_a_document_is_refused(kakunin: Kakunin, tmp_path: Path) -> None:
    run = kakunin("provenance", "upgrade", str(tmp_path))
    assert run.code == 2
    assert "no provenance document" in run.stderr


def test_upgrade_json_reports_todos_and_carries_the_document_without_out(kakunin: Kakunin, tmp_path: Path) -> None:
    batch = write_v2(tmp_path / "batch", "entrustment", as_v1)
    run = kakunin("provenance", "upgrade", str(batch), "--json")
    assert run.code == 0, run.stderr
    out = run.json()
    assert out["out"] is None
    assert out["already_v2"] is False
    assert out["filled_from_provider"] == ["entrustment.client.legal_name", "entrustment.client.address"]
    assert out["document"]["entrustment"]["client"]["legal_name"] == "株式会社サンプルデータ"
    assert out["todos"] == ["entrustment.scope", "entrustment.return_by", "entrustment.evidence"]


def _v1(ground: str, change: Callable[[dict[str, Any]], object] | None = None) -> dict[str, Any]:
    doc = good_v2(ground)
    as_v1(doc)
    if change is not None:
        change(doc)
    return doc


def _eu(doc: dict[str, Any]) -> None:
    doc["eu_origin"] = True
    doc["gdpr"] = {"lawful_basis": "consent", "art14_notice": {"provided_on": "2026-11-25", "evidence": ["x"]}}


def _consent_holder(doc: dict[str, Any]) -> None:
    doc["acquisition"]["upstream"] = [
        {"legal_name": "株式会社中間データ", "legal_ground": "consent", "evidence": ["x"]}
    ]


def _collector_last(doc: dict[str, Any]) -> None:
    doc["acquisition"]["upstream"] = [{"legal_name": "株式会社元収集者", "legal_ground": "collected"}]


def _items_given(doc: dict[str, Any]) -> None:
    doc["opt_out"]["items"] = ["identity.name"]
    doc["acquisition"]["received_by"] = "consent"


@pytest.mark.parametrize(
    ("ground", "change", "path", "expected"),
    [
        pytest.param(
            "consent", _eu, "gdpr", ["lawful_basis", "art14_notice", "purposes_at_transfer"], id="gdpr-purposes-added"
        ),
        pytest.param("consent", None, "contractors[0].country", "JP", id="country-written-out"),
        pytest.param(
            "opt_out",
            _consent_holder,
            "acquisition.upstream",
            [("株式会社中間データ", "consent"), ("TODO: the business that collected it from the people", "collected")],
            id="collector-appended",
        ),
        pytest.param(
            "opt_out",
            _collector_last,
            "acquisition.upstream",
            [("株式会社元収集者", "collected")],
            id="collector-kept",
        ),
        pytest.param("opt_out", _items_given, "opt_out.items", ["identity.name"], id="items-kept"),
        pytest.param(
            "opt_out",
            None,
            "acquisition",
            ["source", "method", "received_by", "description", "period", "evidence", "upstream"],
            id="received-by-after-method",
        ),
        pytest.param(
            "opt_out", None, "opt_out", ["ppc_filing_id", "published_on", "items", "evidence"], id="items-in-place"
        ),
    ],
)
def test_upgrade_adds_only_what_is_missing_in_its_place(
    ground: str, change: Callable[[dict[str, Any]], object] | None, path: str, expected: Any
) -> None:
    upgraded = upgrade_mapping(_v1(ground, change)).document
    found = value_at(upgraded, path)
    if isinstance(found, dict):
        found = list(found)
    elif path.endswith("upstream"):
        found = [(h["legal_name"], h["legal_ground"]) for h in found]
    assert found == expected


def test_the_collector_the_chain_ends_in_gets_only_its_missing_fields() -> None:
    upgraded = upgrade_mapping(_v1("opt_out", _collector_last)).document
    assert [p for p in todo_paths(upgraded) if p.startswith("acquisition.upstream")] == [
        "acquisition.upstream[0].address",
        "acquisition.upstream[0].collection_method",
        "acquisition.upstream[0].evidence",
    ]


def test_nested_subcontractors_get_a_country_and_a_given_one_is_kept() -> None:
    def nested(doc: dict[str, Any]) -> None:
        doc["contractors"][0]["country"] = "US"
        doc["contractors"][0]["subcontractors"] = [{"legal_name": "合同会社入力サポート", "role": "sub"}]

    upgraded = upgrade_mapping(_v1("consent", nested)).document
    assert upgraded["contractors"][0]["country"] == "US"
    assert upgraded["contractors"][0]["subcontractors"][0]["country"] == "JP"

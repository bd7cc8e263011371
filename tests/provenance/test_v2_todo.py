"""`TODO` placeholders (what `provenance upgrade` and `draft` leave) never pass and never crash.

In a field with allowed values, a pattern or a date: a `schema` finding. In free text: the
code of the block it stands in. Either way the message says "fill in <path>".
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from kakunin import yaml_io
from kakunin.contracts import Registry
from kakunin.provenance.document import judge, validate_mapping
from kakunin.provenance.fields import is_todo
from tests.conftest import TODAY, edit
from tests.provenance.conftest import JudgeV2
from tests.provenance.v2 import GROUNDS, good_v2, write_v2


def todo_at(dotted: str, value: Any = "TODO") -> Any:
    def mutate(doc: dict[str, Any]) -> None:
        edit(doc, dotted, value)

    return mutate


@pytest.mark.parametrize(
    ("ground", "dotted", "value", "code", "path"),
    [
        # allowed values, patterns and dates: schema
        pytest.param("opt_out", "acquisition.received_by", "TODO", "schema", "acquisition.received_by", id="enum"),
        pytest.param(
            "opt_out",
            "acquisition.upstream.0.collection_method",
            "TODO",
            "schema",
            "acquisition.upstream[0].collection_method",
            id="collection-method",
        ),
        pytest.param(
            "entrustment", "entrustment.return_by", "TODO", "schema", "entrustment.return_by", id="date-in-a-block"
        ),
        pytest.param("consent", "contractors.0.country", "TODO", "schema", "contractors[0].country", id="pattern"),
        pytest.param("consent", "provider.kind", "TODO", "schema", "provider.kind", id="provider-kind"),
        # free text: the block's own code
        pytest.param(
            "consent", "provider.legal_name", "TODO", "provider.identity", "provider.legal_name", id="provider-name"
        ),
        pytest.param(
            "entrustment",
            "entrustment.scope",
            "TODO: 委託の範囲",
            "ground.entrustment",
            "entrustment.scope",
            id="text-with-a-hint",
        ),
        pytest.param(
            "opt_out", "opt_out.items.0", "TODO", "legal_ground.opt_out", "opt_out.items[0]", id="item-in-a-list"
        ),
        pytest.param(
            "legal_obligation",
            "legal_obligation.law",
            "TODO",
            "ground.legal_obligation",
            "legal_obligation.law",
            id="law",
        ),
        pytest.param("consent", "approved_by", "TODO", "four_eyes", "approved_by", id="approver"),
        pytest.param("consent", "evidence.0.sha256", "TODO", "evidence.hash_mismatch", "evidence[0].sha256", id="hash"),
        pytest.param("consent", "purposes.0", "TODO", "purpose.unregistered", "purposes[0]", id="purpose"),
        pytest.param(
            "consent", "consent.evidence.0", "TODO", "legal_ground.consent", "consent.evidence[0]", id="evidence-id"
        ),
    ],
)
def test_a_todo_fails_with_fill_in_path(
    judge_v2: JudgeV2, ground: str, dotted: str, value: str, code: str, path: str
) -> None:
    verdict = judge_v2(ground, todo_at(dotted, value))
    assert verdict.decision == "rejected"
    at_path = [f for f in verdict.findings if f.path == path]
    assert [(f.code.value, f.message.startswith(f"fill in {path}")) for f in at_path] == [(code, True)], [
        (f.code.value, f.path, f.message) for f in verdict.findings
    ]


def test_a_todo_in_a_required_date_still_gives_a_verdict(judge_v2: JudgeV2) -> None:
    verdict = judge_v2("consent", todo_at("received_on"))
    assert verdict.decision == "rejected"
    assert [(f.code.value, f.path) for f in verdict.findings] == [("schema", "received_on")]
    assert verdict.findings[0].message.startswith("fill in received_on")


def test_every_todo_of_a_document_is_reported(judge_v2: JudgeV2) -> None:
    def many(doc: dict[str, Any]) -> None:
        doc["acquisition"]["received_by"] = "TODO"
        doc["opt_out"]["ppc_filing_id"] = "TODO"
        doc["provider"]["address"] = "TODO"

    verdict = judge_v2("opt_out", many)
    fill_ins = sorted(f.path for f in verdict.findings if f.message.startswith("fill in"))
    assert fill_ins == ["acquisition.received_by", "opt_out.ppc_filing_id", "provider.address"]


@pytest.mark.parametrize(
    ("value", "placeholder"),
    [
        ("TODO", True),
        (" TODO: 住所", True),
        ("TODO（委託元）", True),
        ("TODOROKI株式会社", False),
        ("todo", False),
        ("済 TODO", False),
        (None, False),
    ],
)
def test_what_counts_as_a_placeholder(value: object, placeholder: bool) -> None:
    assert is_todo(value) is placeholder


def _leaves(value: Any, path: str) -> list[tuple[str, str]]:
    """(dotted path for `edit`, finding path) of every scalar in a raw document."""
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, f"{path}.{k}" if path else k)]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, f"{path}.{i}")]
    return [(path, re.sub(r"\.(\d+)", r"[\1]", path))]


@pytest.mark.parametrize("ground", GROUNDS)
def test_a_todo_in_any_field_of_any_good_document_rejects_it_saying_fill_in(
    tmp_path: Path, v2_registry: Registry, ground: str
) -> None:
    folder = write_v2(tmp_path / "batch", ground)
    original = good_v2(ground)
    original["evidence"] = yaml_io.parse_mapping((folder / "provenance.yaml").read_text(encoding="utf-8"))["evidence"]
    missed = []
    for dotted, path in _leaves(original, ""):
        if dotted == "kind":
            continue
        doc = copy.deepcopy(original)
        edit(doc, dotted, "TODO")
        verdict = judge(validate_mapping(doc), batch_dir=folder, registry=v2_registry, today=TODAY)
        said = [f for f in verdict.findings if f.path == path and f.message.startswith(f"fill in {path}")]
        if verdict.decision != "rejected" or not said:
            missed.append(path)
    assert missed == []

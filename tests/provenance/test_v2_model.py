"""v1 documents under v2 rules, the v2 model's defaults, contract categories and per-finding severity."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kakunin.codes import ReasonCode, Severity
from kakunin.contracts import Registry
from kakunin.errors import ConfigError
from kakunin.provenance.document import check_path, validate_mapping
from kakunin.provenance.findings import Finding
from tests.conftest import REPO, TODAY, edits
from tests.provenance.v2 import HEALTH_CONTRACT, good_v2

MakeBatch = Callable[..., Path]


def codes_of(make_batch: MakeBatch, registry: Registry, mutation: object) -> set[str]:
    verdict = check_path(make_batch(mutation), registry=registry, today=TODAY)
    return {f.code.value for f in verdict.findings}


def test_a_v1_document_is_still_accepted_where_v1_rules_accept_it(make_batch: MakeBatch, registry: Registry) -> None:
    verdict = check_path(make_batch(), registry=registry, today=TODAY)
    assert verdict.decision == "accepted"
    assert verdict.findings == []


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        pytest.param(
            edits(provider__kind="individual", provider__representative=None), {"provider.individual"}, id="individual"
        ),
        pytest.param(edits(legal_ground="joint_use", consent=None), {"ground.joint_use"}, id="joint-use-needs-block"),
        pytest.param(
            edits(acquisition__source="another_business", acquisition__method="purchase"),
            {"acquisition.chain"},
            id="chain-needs-received-by-and-collector",
        ),
    ],
)
def test_a_v1_document_that_needs_a_v2_block_fails_on_it(
    make_batch: MakeBatch, registry: Registry, mutation: object, expected: set[str]
) -> None:
    assert codes_of(make_batch, registry, mutation) == expected


def test_v1_and_v2_are_the_kinds_read() -> None:
    doc = good_v2("consent")
    doc["kind"] = "kakunin.provenance/v3"
    (finding,) = validate_mapping(doc).findings
    assert (finding.code, finding.path) == (ReasonCode.SCHEMA, "kind")
    assert "'kakunin.provenance/v1' or 'kakunin.provenance/v2'" in finding.message


def test_a_contractor_is_in_japan_unless_said_and_country_codes_are_upper_case() -> None:
    doc = good_v2("consent")
    del doc["contractors"][0]["country"]
    doc["contractors"][0]["subcontractors"] = [{"legal_name": "x", "role": "sub-processor", "country": "vn"}]
    parsed = validate_mapping(doc).document
    assert parsed is not None
    assert parsed.contractors[0].country == "JP"
    assert parsed.contractors[0].subcontractors[0].country == "VN"


def test_a_contract_accepts_special_care_categories(tmp_path: Path) -> None:
    root = tmp_path / "expectations"
    (root / "jp_health_survey").mkdir(parents=True)
    (root / "purposes.yaml").write_bytes((REPO / "expectations/purposes.yaml").read_bytes())
    (root / "jp_health_survey/contract.yaml").write_text(HEALTH_CONTRACT, encoding="utf-8")
    contract = Registry(root).contract("jp_health_survey")
    assert contract is not None
    assert [c.name for c in contract.special_care_columns] == ["condition"]


def test_a_special_care_column_must_be_personal(tmp_path: Path) -> None:
    root = tmp_path / "expectations"
    (root / "jp_health_survey").mkdir(parents=True)
    (root / "purposes.yaml").write_bytes((REPO / "expectations/purposes.yaml").read_bytes())
    text = HEALTH_CONTRACT.replace(
        "{name: condition, type: string, personal: true,", "{name: condition, type: string, personal: false,"
    )
    (root / "jp_health_survey/contract.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        Registry(root).contract("jp_health_survey")
    assert "jp_health_survey/contract.yaml: columns[2]" in str(caught.value)
    assert "personal" in str(caught.value)


def test_the_purpose_register_has_entrusted_processing(registry: Registry) -> None:
    (purpose,) = [p for p in registry.purposes.purposes if p.id == "entrusted_processing"]
    assert purpose.title_en == "Processing on the client's instructions only"
    assert purpose.title_ja == "委託元の指示に基づく処理のみ"
    contract = registry.contract("jp_customer_leads")
    assert contract is not None
    assert "entrusted_processing" not in contract.allowed_purposes


def test_only_the_error_or_warning_codes_have_two_severities() -> None:
    """The spec's "error / warning": special_care.mismatch, and export.over_limit (refuse or alert by policy)."""
    two = [code for code in ReasonCode if len(code.severities) > 1]
    assert two == [ReasonCode.SPECIAL_CARE_MISMATCH, ReasonCode.EXPORT_OVER_LIMIT]
    assert ReasonCode.EXPORT_OVER_LIMIT.severities == (Severity.ERROR, Severity.WARNING)
    assert ReasonCode.SPECIAL_CARE_MISMATCH.severities == (Severity.ERROR, Severity.WARNING)
    warning = Finding.of(ReasonCode.SPECIAL_CARE_MISMATCH, "special_care", "m", severity=Severity.WARNING)
    assert warning.severity is Severity.WARNING
    with pytest.raises(ValueError, match="schema is never a warning"):
        Finding.of(ReasonCode.SCHEMA, "kind", "m", severity=Severity.WARNING)

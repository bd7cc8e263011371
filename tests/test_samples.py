"""The sample batches: each trips exactly its reason code, the good ones none, and the data is real."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from kakunin.codes import ReasonCode
from kakunin.contracts import Registry, default_expectations_root
from kakunin.provenance.document import check_path, read_document
from kakunin.provenance.model import KIND_V2, LegalGround
from kakunin_dev.samples import COLUMNS, Sample, write_samples
from kakunin_dev.samples_v2 import DEMO_DENIED_BROKER, ENTRUSTED_COLUMNS, write_demo_expectations
from tests.conftest import TODAY

# Codes the gate gives. Intake gives the others: parse, accuracy, landing, and the data-subject codes
# (subject.erased, intake.overlap), which need a store that already holds the person (tests/subjects).
PROVENANCE_CODES = {
    c
    for c in ReasonCode
    if not c.value.startswith(("parse.", "accuracy.", "landing.", "lineage.", "subject.", "intake.", "export."))
}
INTAKE_CODES = {ReasonCode.PARSE_SCHEMA, ReasonCode.PARSE_ENCODING, ReasonCode.ACCURACY_THRESHOLD}


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> list[Sample]:
    return write_samples(tmp_path_factory.mktemp("samples"), today=TODAY, rows=30)


@pytest.fixture(scope="module")
def demo_registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """The expectations the demo judges its samples by: the shipped ones, the demo's 名簿業者 on the deny list."""
    return Registry(write_demo_expectations(default_expectations_root(), tmp_path_factory.mktemp("demo") / "exp"))


def test_every_provenance_code_has_a_sample(samples: list[Sample]) -> None:
    assert {s.expected for s in samples if s.expected and not s.at_intake} == PROVENANCE_CODES
    assert {s.expected for s in samples if s.expected and s.at_intake} == INTAKE_CODES


def test_each_sample_gets_exactly_its_verdict(samples: list[Sample], demo_registry: Registry) -> None:
    for sample in samples:
        verdict = check_path(sample.path, registry=demo_registry, today=TODAY)
        if sample.at_intake or sample.expected is None:
            assert verdict.findings == [], sample.name
        elif sample.warns:
            assert verdict.decision == "accepted", sample.name
            assert verdict.warning_codes == [sample.expected], sample.name
        else:
            assert set(verdict.error_codes) == set(sample.codes), sample.name


def test_one_v2_batch_per_ground_is_accepted(samples: list[Sample], demo_registry: Registry) -> None:
    accepted: dict[LegalGround, str] = {}
    for sample in samples:
        document = read_document(sample.path / "provenance.yaml").document if not sample.name.endswith("json") else None
        if document is None or document.kind != KIND_V2:
            continue
        if check_path(sample.path, registry=demo_registry, today=TODAY).decision == "accepted" and (
            sample.expected is None or sample.expected is ReasonCode.GROUND_REVIEW
        ):
            accepted[document.legal_ground] = document.dataset
    assert set(accepted) == set(LegalGround)
    assert accepted[LegalGround.ENTRUSTMENT] == "jp_entrusted_mailing"  # entrusted data stays apart
    assert {dataset for ground, dataset in accepted.items() if ground is not LegalGround.ENTRUSTMENT} == {
        "jp_customer_leads"
    }


def test_the_broker_resale_is_refused_as_individual_and_denied(samples: list[Sample], demo_registry: Registry) -> None:
    assert [entry.legal_name for entry in demo_registry.denied.denied] == [DEMO_DENIED_BROKER]
    (sample,) = [s for s in samples if s.name.endswith("individual_resells_broker_list")]
    verdict = check_path(sample.path, registry=demo_registry, today=TODAY)
    assert verdict.decision == "rejected"
    assert sorted((f.code.value, f.path) for f in verdict.findings) == [
        (
            "provider.denied",
            "acquisition.upstream[0].legal_name",
        ),  # written ㈱名簿センター, listed 株式会社名簿センター
        ("provider.individual", "provider.kind"),
    ]


def test_the_shipped_deny_list_stays_empty_so_only_the_demo_denies_its_broker(
    samples: list[Sample], registry: Registry
) -> None:
    assert registry.denied.denied == []
    (sample,) = [s for s in samples if s.name.endswith("individual_resells_broker_list")]
    assert check_path(sample.path, registry=registry, today=TODAY).error_codes == [ReasonCode.PROVIDER_INDIVIDUAL]


def test_the_entrusted_sample_holds_the_mailing_columns_only(samples: list[Sample]) -> None:
    (sample,) = [s for s in samples if s.name.endswith("v2_entrustment")]
    with (sample.path / "data.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ENTRUSTED_COLUMNS
    assert len(rows) == 31


def test_the_cp932_sample_is_cp932_and_keeps_characters_beyond_jis_x_0208(samples: list[Sample]) -> None:
    (sample,) = [s for s in samples if s.encoding == "cp932"]
    raw = (sample.path / "data.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("cp932")
    for character in "①髙㈱":
        assert character in text


def test_sample_rows_follow_the_contract(samples: list[Sample], registry: Registry) -> None:
    contract = registry.contract("jp_customer_leads")
    assert contract is not None
    assert [c.name for c in contract.columns] == COLUMNS
    with (samples[0].path / "data.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 30
    for row in rows:
        assert row["customer_no"].startswith("C")
        assert len(row["customer_no"]) == 8
        assert len(row["postal_code"]) == 8
        assert row["postal_code"][3] == "-"
        assert row["consented_at"].endswith("+09:00")
        assert "@" in row["email"]


def test_samples_are_reproducible(tmp_path: Path) -> None:
    first = write_samples(tmp_path / "a", today=TODAY, rows=5)
    second = write_samples(tmp_path / "b", today=TODAY, rows=5)
    for a, b in zip(first, second, strict=True):
        assert (a.path / "data.csv").read_bytes() == (b.path / "data.csv").read_bytes()

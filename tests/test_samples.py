"""The sample batches: each trips exactly its reason code, the good ones none, and the data is real."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from kakunin.codes import ReasonCode
from kakunin.contracts import Registry
from kakunin.provenance.document import check_path
from kakunin_dev.samples import COLUMNS, Sample, write_samples
from tests.conftest import TODAY

# The v2 codes get their sample batches with issue 10's samples (`make run`), written by another change;
# until then tests/provenance/test_v2_*.py makes each fire. Remove a code here when its sample lands.
AWAITING_SAMPLES = {
    ReasonCode.PROVIDER_INDIVIDUAL,
    ReasonCode.PROVIDER_DENIED,
    ReasonCode.GROUND_ENTRUSTMENT,
    ReasonCode.GROUND_JOINT_USE,
    ReasonCode.GROUND_SUCCESSION,
    ReasonCode.GROUND_LEGAL_OBLIGATION,
    ReasonCode.SPECIAL_CARE_MISMATCH,
    ReasonCode.CONTRACTOR_FOREIGN,
    ReasonCode.GDPR_PURPOSE_AT_TRANSFER,
    ReasonCode.NOTICE_LATE,
}
PROVENANCE_CODES = {
    c for c in ReasonCode if not c.value.startswith(("parse.", "accuracy.", "landing.", "lineage."))
} - AWAITING_SAMPLES
INTAKE_CODES = {ReasonCode.PARSE_SCHEMA, ReasonCode.PARSE_ENCODING, ReasonCode.ACCURACY_THRESHOLD}


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> list[Sample]:
    return write_samples(tmp_path_factory.mktemp("samples"), today=TODAY, rows=30)


def test_every_provenance_code_has_a_sample(samples: list[Sample]) -> None:
    assert {s.expected for s in samples if s.expected and not s.at_intake} == PROVENANCE_CODES
    assert {s.expected for s in samples if s.expected and s.at_intake} == INTAKE_CODES


def test_each_sample_gets_exactly_its_verdict(samples: list[Sample], registry: Registry) -> None:
    for sample in samples:
        verdict = check_path(sample.path, registry=registry, today=TODAY)
        if sample.at_intake or sample.expected is None:
            assert verdict.findings == [], sample.name
        elif sample.expected.severity == "warning":
            assert verdict.decision == "accepted", sample.name
            assert verdict.warning_codes == [sample.expected], sample.name
        else:
            assert verdict.error_codes == [sample.expected], sample.name


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

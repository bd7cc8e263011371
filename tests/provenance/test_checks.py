"""Each rule of the spec's table, on a good document changed in one place.

Cases are data: (what changed, the error codes expected, the warning codes expected).
The good document itself must pass with no finding, or every case below is meaningless.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from kakunin.contracts import Registry
from kakunin.provenance.document import check_path
from kakunin.provenance.findings import Verdict
from tests.conftest import DELETE, RECEIVED_ON, TODAY, edits

MakeBatch = Callable[..., Path]


def verdict_of(make_batch: MakeBatch, registry: Registry, mutation: Any = None) -> Verdict:
    return check_path(make_batch(mutation), registry=registry, today=TODAY)


def codes(verdict: Verdict) -> tuple[set[str], set[str]]:
    return {c.value for c in verdict.error_codes}, {c.value for c in verdict.warning_codes}


def test_the_good_document_has_no_finding(make_batch: MakeBatch, registry: Registry) -> None:
    verdict = verdict_of(make_batch, registry)
    assert verdict.decision == "accepted"
    assert verdict.findings == []
    assert verdict.document_id == "PRV-2026-000001"


def _deep_subcontractor(doc: dict[str, Any], batch: Path) -> None:
    middle = doc["contractors"][0]["subcontractors"][0]
    middle["subcontractors"] = [
        {"legal_name": "有限会社三次請", "role": "sub-sub-processor", "security_reviewed_on": RECEIVED_ON}
    ]


def _opt_out_chain(doc: dict[str, Any], batch: Path) -> None:
    doc["legal_ground"] = "opt_out"
    del doc["consent"]
    doc["evidence"][0]["kind"] = "ppc_filing"
    doc["opt_out"] = {
        "ppc_filing_id": "OPT-2023-004512",
        "published_on": "2023-05-01",
        "items": [item["category"] for item in doc["data_items"]],
        "evidence": ["contract-2026"],
    }
    doc["acquisition"]["source"] = "another_business"
    doc["acquisition"]["upstream"] = [
        {
            "legal_name": "株式会社前所有者",
            "address": "大阪府",
            "legal_ground": "opt_out",
            "evidence": ["contract-2026"],
        }
    ]


CASES = [
    # four eyes
    pytest.param(edits(approved_by=DELETE), {"four_eyes"}, set(), id="approver-missing"),
    pytest.param(edits(approved_by="e1024"), {"four_eyes"}, set(), id="approver-is-submitter-any-case"),
    # provider identity
    pytest.param(edits(provider__legal_name=""), {"provider.identity"}, set(), id="provider-name-empty"),
    pytest.param(edits(provider__address=DELETE), {"provider.identity"}, set(), id="provider-address-missing"),
    pytest.param(edits(provider__representative=DELETE), {"provider.identity"}, set(), id="business-no-representative"),
    pytest.param(
        edits(provider__representative=DELETE, provider__kind="individual", provider__corporate_number=DELETE),
        {"provider.individual"},
        set(),
        id="individual-is-refused-not-asked-for-a-representative",
    ),
    pytest.param(
        edits(provider__corporate_number="201000100000"), {"provider.identity"}, set(), id="corp-no-12-digits"
    ),
    pytest.param(edits(provider__corporate_number="2010001000004"), {"provider.identity"}, set(), id="corp-no-check"),
    pytest.param(edits(provider__corporate_number=7000012050002), set(), set(), id="corp-no-unquoted-valid"),
    # acquisition
    pytest.param(edits(acquisition__evidence=[]), {"acquisition.undocumented"}, set(), id="no-acquisition-evidence"),
    pytest.param(
        edits(acquisition__method="other", acquisition__description=DELETE),
        {"acquisition.undocumented"},
        set(),
        id="method-other-undescribed",
    ),
    pytest.param(edits(acquisition__source="another_business"), {"acquisition.chain"}, set(), id="no-upstream"),
    pytest.param(
        edits(
            acquisition__source="another_business",
            acquisition__upstream=[{"legal_name": "株式会社前所有者", "legal_ground": "consent"}],
        ),
        {"acquisition.chain"},
        set(),
        id="upstream-without-evidence",
    ),
    pytest.param(_opt_out_chain, {"acquisition.chain"}, set(), id="opt-out-resale-of-opt-out-data"),
    # legal grounds
    pytest.param(edits(consent=DELETE), {"legal_ground.consent"}, set(), id="consent-block-missing"),
    pytest.param(
        edits(consent__evidence=["contract-2026"]), {"legal_ground.consent"}, set(), id="consent-no-consent-record"
    ),
    pytest.param(
        edits(legal_ground="opt_out", consent=DELETE), {"legal_ground.opt_out"}, set(), id="opt-out-block-missing"
    ),
    pytest.param(
        edits(special_care=True, legal_ground="opt_out", consent=DELETE),
        {"legal_ground.opt_out", "special_care.consent"},
        {"special_care.mismatch"},
        id="special-care-by-opt-out",
    ),
    pytest.param(
        edits(special_care=True), set(), {"special_care.mismatch"}, id="special-care-with-consent-but-no-such-column"
    ),
    pytest.param(
        edits(special_care=True, legal_ground="legal_obligation", legal_obligation={"law": "x", "evidence": ["a"]}),
        {"special_care.consent", "evidence.missing"},
        {"ground.review", "special_care.mismatch"},
        id="sc-legal-obligation",
    ),
    pytest.param(edits(legal_ground="entrustment"), {"ground.entrustment"}, set(), id="entrustment-needs-its-block"),
    pytest.param(edits(legal_ground="business_succession"), {"ground.succession"}, set(), id="succession-block"),
    pytest.param(edits(legal_ground="joint_use"), {"ground.joint_use"}, set(), id="joint-use-block"),
    pytest.param(
        edits(
            legal_ground="legal_obligation",
            legal_obligation={"law": "犯罪収益移転防止法第4条", "evidence": ["contract-2026"]},
        ),
        set(),
        {"ground.review"},
        id="legal-obligation-review",
    ),
    # purposes and notice
    pytest.param(
        edits(purposes=["telemarketing"]),
        {"purpose.unregistered", "purpose.beyond_consent", "notice.missing"},
        set(),
        id="unregistered-purpose-is-not-also-not-permitted",
    ),
    pytest.param(
        edits(
            purposes=["fraud_prevention"], consent__purposes=["fraud_prevention"], notice__purposes=["fraud_prevention"]
        ),
        {"purpose.not_permitted"},
        set(),
        id="registered-but-not-allowed",
    ),
    pytest.param(
        edits(purposes=["product_research", "marketing_post"], notice__purposes=["product_research", "marketing_post"]),
        {"purpose.beyond_consent"},
        set(),
        id="beyond-consent",
    ),
    pytest.param(edits(notice=DELETE), {"notice.missing"}, set(), id="notice-missing"),
    pytest.param(edits(notice__url=DELETE), {"notice.missing"}, set(), id="published-without-url"),
    pytest.param(edits(notice__url=DELETE, notice__method="notified"), set(), set(), id="notified-needs-no-url"),
    pytest.param(edits(notice__purposes=["product_research"]), {"notice.missing"}, set(), id="purpose-not-notified"),
    # data items
    pytest.param(edits(data_items=DELETE), {"data_items.undeclared"}, set(), id="data-items-missing"),
    pytest.param(
        edits(**{"data_items__8": {"column": "hobby", "category": "other.hobby"}}),
        {"data_items.undeclared"},
        set(),
        id="data-item-not-in-contract",
    ),
    # contractors
    pytest.param(_deep_subcontractor, {"contractor.unapproved"}, set(), id="third-level-unapproved"),
    pytest.param(
        edits(contractors__0__approved_on=RECEIVED_ON + timedelta(days=1)),
        {"contractor.unapproved"},
        set(),
        id="approved-after-receipt",
    ),
    pytest.param(
        edits(contractors__0__security_reviewed_on="2025-11-20"), set(), set(), id="reviewed-exactly-12-months-before"
    ),
    pytest.param(
        edits(contractors__0__security_reviewed_on="2025-11-19"),
        set(),
        {"contractor.review_stale"},
        id="reviewed-12-months-and-a-day-before",
    ),
    pytest.param(
        edits(contractors__0__subcontractors__0__security_reviewed_on=DELETE),
        set(),
        {"contractor.review_stale"},
        id="never-reviewed",
    ),
    # evidence references
    pytest.param(
        edits(consent__evidence=["consent-sample", "ghost"]), {"evidence.missing"}, set(), id="cited-undefined"
    ),
    # retention
    pytest.param(edits(retention__period="P5Y"), set(), set(), id="retention-at-max"),
    pytest.param(edits(retention__period="P5Y1D"), {"retention.invalid"}, set(), id="retention-over-max"),
    pytest.param(edits(retention__period="P0D"), {"retention.invalid"}, set(), id="retention-zero"),
    pytest.param(edits(retention__period="-P1Y"), {"retention.invalid"}, set(), id="retention-negative"),
    pytest.param(edits(retention__period="3 years"), {"retention.invalid"}, set(), id="retention-not-iso"),
    pytest.param(edits(retention__period="PT36H"), {"retention.invalid"}, set(), id="retention-time-part"),
    pytest.param(edits(retention__clock="column:last_purchase_on"), set(), set(), id="clock-date-column"),
    pytest.param(edits(retention__clock="column:email"), {"retention.invalid"}, set(), id="clock-not-a-date"),
    pytest.param(edits(retention__clock="column:nope"), {"retention.invalid"}, set(), id="clock-unknown-column"),
    pytest.param(edits(retention__clock="sent_on"), {"retention.invalid"}, set(), id="clock-unknown"),
    # dates
    pytest.param(
        edits(received_on=TODAY + timedelta(days=1)),
        {"dates.inconsistent"},
        set(),
        id="received-in-the-future",
    ),
    pytest.param(
        edits(consent__obtained_between={"from": "2026-10-01", "to": "2026-09-01"}),
        {"dates.inconsistent"},
        set(),
        id="period-ends-before-start",
    ),
    pytest.param(
        edits(consent__obtained_between={"from": "2026-10-01", "to": "2026-11-21"}),
        {"dates.inconsistent"},
        set(),
        id="consent-ends-after-receipt",
    ),
    pytest.param(
        edits(notice__version_date="2026-12-01"), {"dates.inconsistent"}, {"notice.late"}, id="any-date-in-future"
    ),
    # attestations
    pytest.param(edits(attestations=DELETE), {"attestation.red_flag"}, set(), id="attestations-missing"),
    pytest.param(
        edits(attestations__provider_identity_verified=DELETE), {"attestation.red_flag"}, set(), id="one-missing"
    ),
    # gdpr
    pytest.param(edits(eu_origin=True), {"gdpr.missing"}, set(), id="eu-without-gdpr"),
    pytest.param(
        edits(eu_origin=True, gdpr={"lawful_basis": "consent", "purposes_at_transfer": ["marketing_email"]}),
        {"gdpr.missing"},
        set(),
        id="eu-without-art14",
    ),
    pytest.param(
        edits(
            eu_origin=True,
            gdpr={
                "lawful_basis": "consent",
                "art14_notice": {"provided_on": "2026-11-25", "evidence": ["contract-2026"]},
                "purposes_at_transfer": ["marketing_email"],
            },
        ),
        set(),
        set(),
        id="eu-complete",
    ),
    # dataset
    pytest.param(edits(dataset="nope"), {"dataset.unknown"}, set(), id="dataset-unknown"),
    pytest.param(edits(dataset="../../etc"), {"dataset.unknown"}, set(), id="dataset-path-is-not-a-path"),
]


@pytest.mark.parametrize(("mutation", "errors", "warnings"), CASES)
def test_rule(make_batch: MakeBatch, registry: Registry, mutation: Any, errors: set[str], warnings: set[str]) -> None:
    verdict = verdict_of(make_batch, registry, mutation)
    assert codes(verdict) == (errors, warnings), [f.message for f in verdict.findings]
    assert verdict.decision == ("rejected" if errors else "accepted")


def test_finding_paths_name_the_field(make_batch: MakeBatch, registry: Registry) -> None:
    verdict = verdict_of(make_batch, registry, _deep_subcontractor)
    assert [f.path for f in verdict.findings] == ["contractors[0].subcontractors[0].subcontractors[0].approved_on"]
    finding = verdict.findings[0]
    assert finding.article == "25"
    assert "委託先" in finding.message


def test_every_finding_is_reported_not_just_the_first(make_batch: MakeBatch, registry: Registry) -> None:
    mutation = edits(approved_by=DELETE, notice=DELETE, attestations__no_payment_card_data=False, eu_origin=True)
    error_codes, _ = codes(verdict_of(make_batch, registry, mutation))
    assert error_codes == {"four_eyes", "notice.missing", "attestation.red_flag", "gdpr.missing"}

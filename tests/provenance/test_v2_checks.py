"""Each new and changed row of the v2 table, on a good v2 document changed in one place.

Cases are data: (ground of the good document, the change, every (code, path) expected).
tests/provenance/test_v2_examples.py shows the good documents have no finding at all.
"""

from __future__ import annotations

from typing import Any

import pytest

from kakunin.codes import ReasonCode, Severity
from tests.conftest import DELETE, edit
from tests.provenance.conftest import JudgeV2
from tests.provenance.v2 import DENIED_NUMBER, ENTRUSTED, PERSONAL, collector

Expected = set[tuple[str, str]]


def change(**changes: Any) -> Any:
    """A mutation from keyword edits: `change(provider__kind="individual")`; `__` stands for `.`."""

    def mutate(doc: dict[str, Any]) -> None:
        for dotted, value in changes.items():
            edit(doc, dotted.replace("__", "."), value)

    return mutate


def _chain(*holders: dict[str, Any]) -> Any:
    return change(acquisition__upstream=list(holders))


MIDDLE = {"legal_name": "株式会社中間データ", "address": "大阪府大阪市北区1-1", "legal_ground": "consent"}
MIDDLE["evidence"] = ["contract-2026"]
ALL_ITEMS = list(PERSONAL.values())
HEALTH_ITEMS = [
    {"column": "customer_no", "category": "identity.customer_number"},
    {"column": "name_kanji", "category": "identity.name"},
    {"column": "condition", "category": "special_care.health"},
]
HEALTH = {
    "dataset": "jp_health_survey",
    "data_items": HEALTH_ITEMS,
    "purposes": ["product_research"],
    "retention__period": "P1Y",
}
EU = {"lawful_basis": "consent", "art14_notice": {"provided_on": "2026-11-20", "evidence": ["request-letter"]}}

CASES = [
    # provider.individual
    pytest.param(
        "consent",
        change(provider__kind="individual", provider__representative=DELETE, provider__corporate_number=DELETE),
        {("provider.individual", "provider.kind")},
        id="individual-provider",
    ),
    # provider.denied: by corporate number when both have one, else by normalised name
    pytest.param(
        "consent",
        change(provider__legal_name="㈱名簿センター", provider__corporate_number=DELETE),
        {("provider.denied", "provider.legal_name")},
        id="denied-by-name",
    ),
    pytest.param(
        "consent",
        change(provider__legal_name="株式会社ぜんぜん別名", provider__corporate_number=DENIED_NUMBER),
        {("provider.denied", "provider.corporate_number")},
        id="denied-by-number-whatever-the-name",
    ),
    pytest.param(
        "consent",
        change(provider__legal_name="名簿センター株式会社"),
        set(),
        id="same-name-other-corporate-number-is-another-business",
    ),
    pytest.param(
        "consent",
        change(provider__legal_name="（有）闇名簿"),
        {("provider.denied", "provider.legal_name")},
        id="entry-without-number-matches-by-name",
    ),
    pytest.param(
        "opt_out",
        change(acquisition__upstream__0__legal_name="株式会社 名簿センター"),
        {("provider.denied", "acquisition.upstream[0].legal_name")},
        id="denied-upstream-by-name",
    ),
    pytest.param(
        "opt_out",
        change(acquisition__upstream__0__corporate_number=DENIED_NUMBER),
        {("provider.denied", "acquisition.upstream[0].corporate_number")},
        id="denied-upstream-by-number",
    ),
    pytest.param(
        "opt_out",
        change(acquisition__upstream__0__corporate_number="6010001000002"),
        {("acquisition.chain", "acquisition.upstream[0].corporate_number")},
        id="upstream-corporate-number-bad-check-digit",
    ),
    # acquisition.chain, extended
    pytest.param(
        "opt_out",
        change(acquisition__received_by=DELETE),
        {("acquisition.chain", "acquisition.received_by")},
        id="no-received-by",
    ),
    pytest.param(
        "opt_out",
        _chain(MIDDLE),
        {("acquisition.chain", "acquisition.upstream[0].legal_ground")},
        id="last-holder-not-collected",
    ),
    pytest.param(
        "opt_out",
        change(acquisition__upstream__0__collection_method=DELETE),
        {("acquisition.chain", "acquisition.upstream[0].collection_method")},
        id="collected-without-method",
    ),
    pytest.param(
        "opt_out",
        change(acquisition__upstream__0__evidence=["contract-2026"]),
        {("acquisition.chain", "acquisition.upstream[0].evidence")},
        id="collected-without-consent-record-or-notice",
    ),
    pytest.param(
        "opt_out",
        _chain(collector(), MIDDLE),
        {
            ("acquisition.chain", "acquisition.upstream[0].legal_ground"),
            ("acquisition.chain", "acquisition.upstream[1].legal_ground"),
        },
        id="collected-not-last",
    ),
    pytest.param("opt_out", _chain(MIDDLE, collector()), set(), id="two-holders-down-to-the-collector"),
    pytest.param(
        "consent",
        change(acquisition__method="purchase"),
        {("acquisition.chain", "acquisition.method")},
        id="purchase-from-the-data-subjects",
    ),
    # legal_ground.opt_out, extended
    pytest.param(
        "opt_out",
        change(opt_out__published_on="2026-11-21"),
        {("legal_ground.opt_out", "opt_out.published_on")},
        id="filing-published-after-receipt",
    ),
    pytest.param("opt_out", change(opt_out__published_on="2026-11-20"), set(), id="filing-published-on-receipt"),
    pytest.param(
        "opt_out", change(opt_out__items=DELETE), {("legal_ground.opt_out", "opt_out.items")}, id="items-missing"
    ),
    pytest.param(
        "opt_out",
        change(opt_out__items=[i for i in ALL_ITEMS if i != "contact.email"]),
        {("legal_ground.opt_out", "opt_out.items")},
        id="items-not-covering-email",
    ),
    pytest.param(
        "opt_out",
        change(acquisition__received_by="opt_out"),
        {("legal_ground.opt_out", "acquisition.received_by")},
        id="provider-received-by-opt-out",
    ),
    # ground.entrustment
    pytest.param(
        "entrustment", change(entrustment=DELETE), {("ground.entrustment", "entrustment")}, id="entrustment-missing"
    ),
    pytest.param(
        "entrustment",
        change(entrustment__evidence=["request-letter"]),
        {("ground.entrustment", "entrustment.evidence")},
        id="entrustment-without-contract",
    ),
    pytest.param(
        "entrustment",
        change(purposes=["entrusted_processing", "marketing_email"]),
        {("ground.entrustment", "purposes"), ("purpose.not_permitted", "purposes[1]")},
        id="entrusted-data-for-our-marketing",
    ),
    pytest.param(
        "entrustment",
        change(entrustment__return_by="2026-11-19"),
        {("ground.entrustment", "entrustment.return_by")},
        id="return-by-before-receipt",
    ),
    pytest.param(
        "entrustment",
        change(retention__period="P6M"),
        {("ground.entrustment", "retention.period")},
        id="kept-after-return-by",
    ),
    pytest.param(
        "entrustment",
        change(entrustment__return_by="2027-02-20", retention__period="P3M"),
        set(),
        id="kept-until-exactly-return-by",
    ),
    pytest.param(
        "entrustment",
        change(entrustment__client__address=DELETE),
        {("ground.entrustment", "entrustment.client.address")},
        id="client-without-address",
    ),
    pytest.param(
        "entrustment",
        change(dataset="jp_customer_leads", data_items=[{"column": c, "category": k} for c, k in PERSONAL.items()]),
        {("purpose.not_permitted", "purposes[0]")},
        id="entrusted-data-into-our-own-dataset",
    ),
    pytest.param(
        "entrustment",
        change(notice={"method": "published"}),
        set(),
        id="no-notice-needed-for-entrustment",
    ),
    # ground.joint_use
    pytest.param("joint_use", change(joint_use=DELETE), {("ground.joint_use", "joint_use")}, id="joint-use-missing"),
    pytest.param(
        "joint_use",
        change(joint_use__responsible__representative=DELETE),
        {("ground.joint_use", "joint_use.responsible.representative")},
        id="responsible-incomplete",
    ),
    pytest.param(
        "joint_use",
        change(joint_use__notified_on="2026-11-21"),
        {("ground.joint_use", "joint_use.notified_on")},
        id="notified-after-receipt",
    ),
    pytest.param(
        "joint_use",
        change(joint_use__evidence=["contract-2026"]),
        {("ground.joint_use", "joint_use.evidence")},
        id="joint-use-without-notice-evidence",
    ),
    pytest.param(
        "joint_use",
        change(purposes=["marketing_email", "product_research"]),
        {("ground.joint_use", "purposes[1]")},
        id="purpose-not-notified-for-joint-use",
    ),
    pytest.param(
        "joint_use",
        change(joint_use__items=[i for i in ALL_ITEMS if i != "contact.phone"]),
        {("ground.joint_use", "data_items[4].category")},
        id="item-not-notified-for-joint-use",
    ),
    # ground.succession
    pytest.param(
        "business_succession", change(succession=DELETE), {("ground.succession", "succession")}, id="succession-missing"
    ),
    pytest.param(
        "business_succession",
        change(succession__evidence=["joint-use-notice"]),
        {("ground.succession", "succession.evidence")},
        id="succession-without-contract",
    ),
    pytest.param(
        "business_succession",
        change(succession__effective_on="2026-11-21"),
        {("ground.succession", "succession.effective_on")},
        id="succession-after-receipt",
    ),
    pytest.param(
        "business_succession",
        change(purposes=["marketing_post", "marketing_email"]),
        {("ground.succession", "purposes[1]")},
        id="beyond-the-predecessors-purposes",
    ),
    # ground.legal_obligation (and ground.review, now only for it)
    pytest.param(
        "legal_obligation",
        change(legal_obligation=DELETE),
        {("ground.legal_obligation", "legal_obligation"), ("ground.review", "legal_ground")},
        id="legal-obligation-missing",
    ),
    pytest.param(
        "legal_obligation",
        change(legal_obligation__law=DELETE, legal_obligation__evidence=[]),
        {
            ("ground.legal_obligation", "legal_obligation.law"),
            ("ground.legal_obligation", "legal_obligation.evidence"),
            ("ground.review", "legal_ground"),
        },
        id="legal-obligation-without-law-or-evidence",
    ),
    # special_care.mismatch
    pytest.param(
        "consent", change(**HEALTH), {("special_care.mismatch", "special_care")}, id="special-care-column-unflagged"
    ),
    pytest.param("consent", change(**HEALTH, special_care=True), set(), id="special-care-column-flagged"),
    pytest.param(
        "consent", change(special_care=True), {("special_care.mismatch", "special_care")}, id="flag-without-column"
    ),
    # contractor.foreign
    pytest.param(
        "consent",
        change(contractors__0__country="US"),
        {("contractor.foreign", "contractors[0].country")},
        id="contractor-abroad",
    ),
    pytest.param(
        "consent",
        change(contractors__0__country="US", contractors__0__evidence=["dpa-nyuryoku", "transfer-agreement"]),
        set(),
        id="contractor-abroad-with-transfer-agreement",
    ),
    pytest.param(
        "consent",
        change(
            contractors__0__subcontractors=[
                {"legal_name": "VN Data Co.", "role": "sub-processor", "country": "vn", "approved_on": "2025-03-01"}
                | {"security_reviewed_on": "2026-03-01"}
            ]
        ),
        {("contractor.foreign", "contractors[0].subcontractors[0].country")},
        id="sub-contractor-abroad",
    ),
    # gdpr.purpose_at_transfer
    pytest.param(
        "consent",
        change(eu_origin=True, gdpr=EU),
        {("gdpr.purpose_at_transfer", "gdpr.purposes_at_transfer")},
        id="eu-without-purposes-at-transfer",
    ),
    pytest.param(
        "consent",
        change(eu_origin=True, gdpr=EU | {"purposes_at_transfer": ["product_research"]}),
        {("gdpr.purpose_at_transfer", "purposes[0]")},
        id="purpose-beyond-transfer",
    ),
    pytest.param(
        "consent", change(eu_origin=True, gdpr=EU | {"purposes_at_transfer": ["marketing_email"]}), set(), id="eu-ok"
    ),
    # notice.late
    pytest.param(
        "consent", change(notice__version_date="2026-11-22"), {("notice.late", "notice.version_date")}, id="late"
    ),
    pytest.param("consent", change(notice__version_date="2026-11-20"), set(), id="notice-on-receipt-day"),
]


@pytest.mark.parametrize(("ground", "mutation", "expected"), CASES)
def test_rule(judge_v2: JudgeV2, ground: str, mutation: Any, expected: Expected) -> None:
    verdict = judge_v2(ground, mutation)
    assert {(f.code.value, f.path) for f in verdict.findings} == expected, [f.message for f in verdict.findings]
    errors = [f for f in verdict.findings if f.severity is Severity.ERROR]
    assert verdict.decision == ("rejected" if errors else "accepted")


ARTICLES = {
    "provider.individual": "20(1), 30(1)(ii)",
    "provider.denied": "20(1)",
    "acquisition.chain": "20(1), 30(1)(ii)",
    "legal_ground.opt_out": "27(2)-(4)",
    "ground.entrustment": "27(5)(i), 18",
    "ground.joint_use": "27(5)(iii)",
    "ground.succession": "27(5)(ii), 18(2)",
    "ground.legal_obligation": "27(1)",
    "ground.review": "27(1)",
    "special_care.mismatch": "2(3), 20(2)",
    "contractor.foreign": "28",
    "gdpr.purpose_at_transfer": "GDPR 5(1)(b), Supplementary Rules (3)",
    "notice.late": "21(1)",
}


@pytest.mark.parametrize(("code", "article"), ARTICLES.items())
def test_each_v2_code_carries_the_spec_article(code: str, article: str) -> None:
    assert ReasonCode(code).article == article


def test_special_care_mismatch_is_an_error_one_way_and_a_warning_the_other(judge_v2: JudgeV2) -> None:
    (unflagged,) = judge_v2("consent", change(**HEALTH)).findings
    (flag_only,) = judge_v2("consent", change(special_care=True)).findings
    assert (unflagged.severity, flag_only.severity) == (Severity.ERROR, Severity.WARNING)
    assert "condition" in unflagged.message
    assert "要配慮個人情報" in flag_only.message


def test_special_care_consent_still_fires_for_a_true_flag_on_another_ground(judge_v2: JudgeV2) -> None:
    verdict = judge_v2("joint_use", change(**HEALTH, special_care=True, joint_use__purposes=["product_research"]))
    codes = {(f.code.value, f.path) for f in verdict.findings}
    assert ("special_care.consent", "special_care") in codes
    assert ("special_care.mismatch", "special_care") not in codes


def test_the_entrusted_mailing_data_items_are_the_contracts(judge_v2: JudgeV2) -> None:
    """The entrustment example is judged against the spec's jp_entrusted_mailing columns, no more."""
    verdict = judge_v2("entrustment", change(data_items__5={"column": "email", "category": "contact.email"}))
    assert {(f.code.value, f.path) for f in verdict.findings} == {("data_items.undeclared", "data_items[5].column")}
    assert len(ENTRUSTED) == 5

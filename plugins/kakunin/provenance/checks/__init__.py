"""The checks of provenance-document.md (v1 and "Version 2"), as pure functions over a parsed document.

Each check looks at one duty and yields findings; `check_document` runs them all so a
person gets every problem at once. Nothing here reads files or the clock: evidence
file states, the deny list and `today` come in as arguments. By theme:
`identity` (dataset, four eyes, provider, deny list, acquisition chain), `grounds` (the
legal ground's block, special care), `purposes` (purposes, notice, data items, GDPR),
`records` (contractors, evidence, retention, dates, attestations), `todo` (placeholders).
"""

from __future__ import annotations

from kakunin.provenance.checks.base import Check, CheckContext, EvidenceFileState
from kakunin.provenance.checks.grounds import (
    check_consent_ground,
    check_entrustment,
    check_ground_review,
    check_joint_use,
    check_legal_obligation,
    check_opt_out_ground,
    check_special_care,
    check_special_care_mismatch,
    check_succession,
)
from kakunin.provenance.checks.identity import (
    check_acquisition_chain,
    check_acquisition_documented,
    check_dataset,
    check_four_eyes,
    check_provider_denied,
    check_provider_identity,
    check_provider_individual,
    is_valid_corporate_number,
)
from kakunin.provenance.checks.purposes import (
    check_data_items,
    check_gdpr,
    check_gdpr_purposes,
    check_notice,
    check_purposes,
)
from kakunin.provenance.checks.records import (
    check_attestations,
    check_contractors,
    check_contractors_abroad,
    check_dates,
    check_evidence,
    check_retention,
    retention_problem,
)
from kakunin.provenance.checks.todo import check_todo
from kakunin.provenance.findings import Finding
from kakunin.provenance.model import ProvenanceDocument

__all__ = [
    "CHECKS",
    "Check",
    "CheckContext",
    "EvidenceFileState",
    "check_acquisition_chain",
    "check_acquisition_documented",
    "check_attestations",
    "check_consent_ground",
    "check_contractors",
    "check_contractors_abroad",
    "check_data_items",
    "check_dataset",
    "check_dates",
    "check_document",
    "check_entrustment",
    "check_evidence",
    "check_four_eyes",
    "check_gdpr",
    "check_gdpr_purposes",
    "check_ground_review",
    "check_joint_use",
    "check_legal_obligation",
    "check_notice",
    "check_opt_out_ground",
    "check_provider_denied",
    "check_provider_identity",
    "check_provider_individual",
    "check_purposes",
    "check_retention",
    "check_special_care",
    "check_special_care_mismatch",
    "check_succession",
    "check_todo",
    "is_valid_corporate_number",
    "retention_problem",
]

CHECKS: tuple[Check, ...] = (
    check_dataset,
    check_four_eyes,
    check_provider_identity,
    check_provider_individual,
    check_provider_denied,
    check_acquisition_documented,
    check_acquisition_chain,
    check_consent_ground,
    check_opt_out_ground,
    check_entrustment,
    check_joint_use,
    check_succession,
    check_legal_obligation,
    check_special_care,
    check_special_care_mismatch,
    check_purposes,
    check_notice,
    check_data_items,
    check_contractors,
    check_contractors_abroad,
    check_evidence,
    check_retention,
    check_dates,
    check_attestations,
    check_gdpr,
    check_gdpr_purposes,
    check_ground_review,
)


def _at_or_under(path: str, roots: set[str]) -> bool:
    return any(path == r or path.startswith((r + ".", r + "[")) for r in roots)


def check_document(doc: ProvenanceDocument, context: CheckContext) -> list[Finding]:
    """Every finding for `doc`: `TODO` placeholders first, then the spec's table in order.

    A finding at the very field a `TODO` stands in (or inside it) is left out: "fill in
    purposes[0]" says more than "purpose 'TODO' is not registered".
    """
    todos = list(check_todo(doc, context))
    placeholders = {f.path for f in todos}
    rest = [f for check in CHECKS for f in check(doc, context) if not _at_or_under(f.path, placeholders)]
    return todos + rest

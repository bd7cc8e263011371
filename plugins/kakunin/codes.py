"""The one reason-code enum: every finding and every error carries one of these.

Codes are part of the product's contract (provenance-document.md, lineage-manifest.md):
users filter on them, tools parse them. Add codes; never rename or reuse one.
"""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """An `error` rejects a batch; a `warning` is recorded and shown but does not."""

    ERROR = "error"
    WARNING = "warning"


class ReasonCode(StrEnum):
    """Why a batch, a row or a record was judged as it was."""

    # provenance gate (provenance-document.md)
    SCHEMA = "schema"
    DATASET_UNKNOWN = "dataset.unknown"
    FOUR_EYES = "four_eyes"
    PROVIDER_IDENTITY = "provider.identity"
    ACQUISITION_UNDOCUMENTED = "acquisition.undocumented"
    ACQUISITION_CHAIN = "acquisition.chain"
    LEGAL_GROUND_CONSENT = "legal_ground.consent"
    LEGAL_GROUND_OPT_OUT = "legal_ground.opt_out"
    SPECIAL_CARE_CONSENT = "special_care.consent"
    PURPOSE_UNREGISTERED = "purpose.unregistered"
    PURPOSE_NOT_PERMITTED = "purpose.not_permitted"
    PURPOSE_BEYOND_CONSENT = "purpose.beyond_consent"
    NOTICE_MISSING = "notice.missing"
    DATA_ITEMS_UNDECLARED = "data_items.undeclared"
    CONTRACTOR_UNAPPROVED = "contractor.unapproved"
    CONTRACTOR_REVIEW_STALE = "contractor.review_stale"
    EVIDENCE_MISSING = "evidence.missing"
    EVIDENCE_HASH_MISMATCH = "evidence.hash_mismatch"
    EVIDENCE_UNSAFE_PATH = "evidence.unsafe_path"
    RETENTION_INVALID = "retention.invalid"
    DATES_INCONSISTENT = "dates.inconsistent"
    ATTESTATION_RED_FLAG = "attestation.red_flag"
    GDPR_MISSING = "gdpr.missing"
    GROUND_REVIEW = "ground.review"
    # provenance gate, version 2 (provenance-document.md "Version 2")
    PROVIDER_INDIVIDUAL = "provider.individual"
    PROVIDER_DENIED = "provider.denied"
    GROUND_ENTRUSTMENT = "ground.entrustment"
    GROUND_JOINT_USE = "ground.joint_use"
    GROUND_SUCCESSION = "ground.succession"
    GROUND_LEGAL_OBLIGATION = "ground.legal_obligation"
    SPECIAL_CARE_MISMATCH = "special_care.mismatch"
    CONTRACTOR_FOREIGN = "contractor.foreign"
    GDPR_PURPOSE_AT_TRANSFER = "gdpr.purpose_at_transfer"
    NOTICE_LATE = "notice.late"

    # intake (architecture.md, issue: intake)
    LANDING_TAMPERED = "landing.tampered"
    PARSE_SCHEMA = "parse.schema"
    PARSE_ENCODING = "parse.encoding"
    PARSE_VALUE = "parse.value"
    ACCURACY_THRESHOLD = "accuracy.threshold"
    SUBJECT_ERASED = "subject.erased"  # a row code: the row's person asked to be erased; dropped, not quarantined
    INTAKE_OVERLAP = "intake.overlap"

    # export and take-out (issue 12): why an export was refused or flagged
    EXPORT_PURPOSE_UNREGISTERED = "export.purpose_unregistered"  # not in purposes.yaml
    EXPORT_PURPOSE_NOT_ALLOWED = "export.purpose_not_allowed"  # not a purpose of the dataset, or none of its columns
    EXPORT_COLUMNS = "export.columns"  # a column the purpose does not need
    EXPORT_OVER_LIMIT = "export.over_limit"  # over a take-out limit (refused, or allowed with an alert: warning)

    # lineage verify (lineage-manifest.md): a lineage or audit object the store does not keep write-once
    LINEAGE_UNLOCKED = "lineage.unlocked"

    @property
    def severity(self) -> Severity:
        """The severity a finding with this code has by default.

        Every code has exactly one severity except those in `_ALSO` (today only
        `special_care.mismatch`, "error / warning" in the spec): their checks give the
        other severity per finding (`Finding.of(..., severity=...)`), never any other.
        """
        return _WARNINGS.get(self, Severity.ERROR)

    @property
    def severities(self) -> tuple[Severity, ...]:
        """Every severity a finding with this code may have, the default first."""
        return (self.severity, *_ALSO.get(self, ()))

    @property
    def article(self) -> str | None:
        """The article the check serves, as written in the spec table (APPI unless named)."""
        return _ARTICLES.get(self)


_WARNINGS: dict[ReasonCode, Severity] = {
    ReasonCode.CONTRACTOR_REVIEW_STALE: Severity.WARNING,
    ReasonCode.GROUND_REVIEW: Severity.WARNING,
    ReasonCode.NOTICE_LATE: Severity.WARNING,
    ReasonCode.SUBJECT_ERASED: Severity.WARNING,
}

# Codes whose check may give a finding a second severity (the spec's "error / warning").
_ALSO: dict[ReasonCode, tuple[Severity, ...]] = {
    ReasonCode.SPECIAL_CARE_MISMATCH: (Severity.WARNING,),
    ReasonCode.EXPORT_OVER_LIMIT: (Severity.WARNING,),  # the policy says `alert`: allowed, flagged
}

_ARTICLES: dict[ReasonCode, str] = {
    ReasonCode.FOUR_EYES: "24",
    ReasonCode.PROVIDER_IDENTITY: "30(1)(i)",
    ReasonCode.ACQUISITION_UNDOCUMENTED: "30(1)(ii), 20",
    ReasonCode.ACQUISITION_CHAIN: "20(1), 30(1)(ii)",
    ReasonCode.LEGAL_GROUND_CONSENT: "20, 27",
    ReasonCode.LEGAL_GROUND_OPT_OUT: "27(2)-(4)",
    ReasonCode.SPECIAL_CARE_CONSENT: "20(2)",
    ReasonCode.PURPOSE_UNREGISTERED: "17",
    ReasonCode.PURPOSE_NOT_PERMITTED: "18",
    ReasonCode.PURPOSE_BEYOND_CONSENT: "18",
    ReasonCode.NOTICE_MISSING: "21",
    ReasonCode.DATA_ITEMS_UNDECLARED: "17, 30(3)",
    ReasonCode.CONTRACTOR_UNAPPROVED: "25",
    ReasonCode.CONTRACTOR_REVIEW_STALE: "25",
    ReasonCode.EVIDENCE_MISSING: "30",
    ReasonCode.EVIDENCE_HASH_MISMATCH: "30",
    ReasonCode.RETENTION_INVALID: "22",
    ReasonCode.ATTESTATION_RED_FLAG: "20",
    ReasonCode.GDPR_MISSING: "GDPR 14",
    ReasonCode.GROUND_REVIEW: "27(1)",
    ReasonCode.PROVIDER_INDIVIDUAL: "20(1), 30(1)(ii)",
    ReasonCode.PROVIDER_DENIED: "20(1)",
    ReasonCode.GROUND_ENTRUSTMENT: "27(5)(i), 18",
    ReasonCode.GROUND_JOINT_USE: "27(5)(iii)",
    ReasonCode.GROUND_SUCCESSION: "27(5)(ii), 18(2)",
    ReasonCode.GROUND_LEGAL_OBLIGATION: "27(1)",
    ReasonCode.SPECIAL_CARE_MISMATCH: "2(3), 20(2)",
    ReasonCode.CONTRACTOR_FOREIGN: "28",
    ReasonCode.GDPR_PURPOSE_AT_TRANSFER: "GDPR 5(1)(b), Supplementary Rules (3)",
    ReasonCode.NOTICE_LATE: "21(1)",
    ReasonCode.ACCURACY_THRESHOLD: "22",
    ReasonCode.SUBJECT_ERASED: "35, GDPR 17",
    ReasonCode.INTAKE_OVERLAP: "20(1), 30(1)(ii)",
    ReasonCode.EXPORT_PURPOSE_UNREGISTERED: "17",
    ReasonCode.EXPORT_PURPOSE_NOT_ALLOWED: "18",
    ReasonCode.EXPORT_COLUMNS: "18, 23",
    ReasonCode.EXPORT_OVER_LIMIT: "23, 24",
}

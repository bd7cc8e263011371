"""The provenance document, kakunin.provenance/v1 (shared/design/provenance-document.md).

The models check shape only: types, allowed values, unknown fields. Whether the
content is acceptable is decided in `checks.py`, so a field whose absence has its own
reason code (a missing `approved_by` is `four_eyes`, not `schema`) is optional here.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, field_validator

from kakunin.uniqueness import repeated

KIND = "kakunin.provenance/v1"
DOCUMENT_ID_PATTERN = r"^PRV-\d{4}-\d{6}$"


EARLIEST_DATE, LATEST_DATE = date(1900, 1, 1), date(2999, 12, 31)


def _strict_iso_date(value: Any) -> Any:
    """Dates are ISO `YYYY-MM-DD` (quoted or not), between 1900 and 2999; numbers and date-times are refused.

    The range keeps date arithmetic in the checks (a year back, a retention period on) from
    running off the calendar: `0001-01-01` is a schema finding, not a crash.
    """
    if isinstance(value, datetime):
        raise ValueError("expected a date (YYYY-MM-DD), found a date and time")
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value) if len(value) == 10 else _bad_date(value)
        except ValueError:
            return _bad_date(value)
    if not isinstance(value, date):
        raise ValueError(f"expected a date (YYYY-MM-DD), found {type(value).__name__}")
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"expected a date between {EARLIEST_DATE} and {LATEST_DATE}, found {value}")
    return value


def _bad_date(value: str) -> Any:
    raise ValueError(f"expected a date as YYYY-MM-DD, found {value!r}")


def _none_as_empty(value: Any) -> Any:
    """`evidence:` with nothing after it is an empty list, as a person means it."""
    return [] if value is None else value


def _number_as_text(value: Any) -> Any:
    """An unquoted corporate number arrives as an int; it is text (13 digits)."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


DocDate = Annotated[date, BeforeValidator(_strict_iso_date)]
EvidenceId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
EvidenceIds = Annotated[list[EvidenceId], BeforeValidator(_none_as_empty)]
PurposeIds = Annotated[list[str], BeforeValidator(_none_as_empty)]
Text = Annotated[str, Field(max_length=2000)]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class ProviderKind(StrEnum):
    BUSINESS = "business"
    INDIVIDUAL = "individual"
    PUBLIC_BODY = "public_body"


class AcquisitionSource(StrEnum):
    DATA_SUBJECTS = "data_subjects"
    ANOTHER_BUSINESS = "another_business"
    PUBLIC_SOURCE = "public_source"


class AcquisitionMethod(StrEnum):
    WEB_FORM = "web_form"
    PAPER_FORM = "paper_form"
    EVENT = "event"
    REFERRAL = "referral"
    PURCHASE = "purchase"
    PUBLIC_REGISTRY = "public_registry"
    OTHER = "other"


class LegalGround(StrEnum):
    CONSENT = "consent"
    OPT_OUT = "opt_out"
    ENTRUSTMENT = "entrustment"
    BUSINESS_SUCCESSION = "business_succession"
    JOINT_USE = "joint_use"
    LEGAL_OBLIGATION = "legal_obligation"


class ConsentMechanism(StrEnum):
    WEB_CHECKBOX = "web_checkbox"
    SIGNED_FORM = "signed_form"
    VERBAL_RECORDED = "verbal_recorded"
    OTHER = "other"


class NoticeMethod(StrEnum):
    PUBLISHED = "published"
    NOTIFIED = "notified"


class EvidenceKind(StrEnum):
    CONTRACT = "contract"
    PRIVACY_NOTICE = "privacy_notice"
    CONSENT_RECORD = "consent_record"
    PPC_FILING = "ppc_filing"
    SECURITY_REVIEW = "security_review"
    DPA = "dpa"
    OTHER = "other"


class LawfulBasis(StrEnum):
    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTERESTS = "legitimate_interests"


class Period(_Doc):
    """A span of dates, both ends included."""

    start: Annotated[DocDate, Field(alias="from")]
    to: DocDate


class Provider(_Doc):
    """Who gave us the data (APPI Art. 30(1)(i))."""

    kind: ProviderKind
    legal_name: Text | None = None
    address: Text | None = None
    representative: Annotated[Text | None, Field(description="Required when kind is business.")] = None
    corporate_number: Annotated[
        str | None,
        BeforeValidator(_number_as_text),
        Field(description="法人番号: 13 digits, the first a check digit."),
    ] = None
    country: Annotated[
        Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None,
        BeforeValidator(_upper),
        Field(description="ISO 3166-1 alpha-2."),
    ] = None


class UpstreamHolder(_Doc):
    """An earlier holder of the data, when the provider got it from another business."""

    legal_name: Text
    address: Text | None = None
    legal_ground: Annotated[LegalGround, Field(description="How the data reached that holder.")]
    evidence: EvidenceIds = []


class Acquisition(_Doc):
    """How the provider obtained the data (APPI Art. 30(1)(ii), 20)."""

    source: AcquisitionSource
    method: AcquisitionMethod
    description: Text | None = None
    period: Period | None = None
    evidence: EvidenceIds = []
    upstream: Annotated[list[UpstreamHolder], BeforeValidator(_none_as_empty)] = []


class Consent(_Doc):
    """The data subjects' consent to provision to third parties (APPI Art. 27(1))."""

    mechanism: ConsentMechanism
    purposes: PurposeIds = []
    obtained_between: Period | None = None
    evidence: EvidenceIds = []


class OptOut(_Doc):
    """The provider's opt-out filing with the PPC (APPI Art. 27(2))."""

    ppc_filing_id: Text | None = None
    published_on: DocDate | None = None
    evidence: EvidenceIds = []


class Notice(_Doc):
    """How our purposes were notified or published (APPI Art. 21)."""

    method: NoticeMethod
    url: Annotated[str | None, Field(pattern=r"^https?://\S+$", max_length=2000)] = None
    version_date: DocDate | None = None
    purposes: PurposeIds = []


class DataItem(_Doc):
    """One column of the file that holds personal information, with its category."""

    column: Annotated[str, Field(min_length=1, max_length=128)]
    category: Annotated[str, Field(min_length=1, max_length=128)]


class Contractor(_Doc):
    """A contractor that handled the data, with its sub-contractors at any depth (APPI Art. 25)."""

    legal_name: Text
    role: Annotated[str, Field(min_length=1, max_length=128)]
    approved_on: DocDate | None = None
    security_reviewed_on: DocDate | None = None
    evidence: EvidenceIds = []
    subcontractors: Annotated[list[Contractor], BeforeValidator(_none_as_empty)] = []


class Retention(_Doc):
    """How long we keep the records, counted from which clock (APPI Art. 22)."""

    period: Annotated[str, Field(description="ISO 8601 duration, e.g. P3Y.")]
    clock: Annotated[str, Field(description="received_on | column:<date column>")] = "received_on"
    basis: Text | None = None


class Art14Notice(_Doc):
    """When the data subjects were told where their data came from (GDPR Art. 14)."""

    provided_on: DocDate
    evidence: EvidenceIds = []


class Gdpr(_Doc):
    """GDPR facts for EU-origin data."""

    lawful_basis: LawfulBasis | None = None
    art14_notice: Art14Notice | None = None


class Evidence(_Doc):
    """A file in the batch folder that backs a claim; its SHA-256 pins the content."""

    id: EvidenceId
    kind: EvidenceKind
    file: Annotated[str, Field(min_length=1, max_length=1024, description="Relative to the batch folder.")]
    sha256: Annotated[
        str,
        Field(
            max_length=128,
            description="Hex SHA-256 of the file. Any other value is reported as evidence.hash_mismatch.",
        ),
    ]


class Attestations(_Doc):
    """The employee's confirmation that no red flag was seen (PPC FAQ Q4-3)."""

    no_confidential_markings: StrictBool | None = None
    no_payment_card_data: StrictBool | None = None
    provider_identity_verified: StrictBool | None = None


class ProvenanceDocument(_Doc):
    """kakunin.provenance/v1: the machine-checkable record of a lawful acquisition."""

    kind: Literal["kakunin.provenance/v1"]
    document_id: Annotated[str, Field(pattern=DOCUMENT_ID_PATTERN)]
    dataset: Annotated[str, Field(min_length=1, max_length=64)]
    received_on: DocDate
    submitted_by: Annotated[str, Field(min_length=1, max_length=64)]
    approved_by: Annotated[str | None, Field(max_length=64)] = None
    provider: Provider
    acquisition: Acquisition
    legal_ground: LegalGround
    consent: Consent | None = None
    opt_out: OptOut | None = None
    notice: Notice | None = None
    purposes: Annotated[list[str], Field(min_length=1)]
    data_items: Annotated[list[DataItem], BeforeValidator(_none_as_empty)] = []
    special_care: Annotated[StrictBool, Field(description="要配慮個人情報 (APPI Art. 2(3)) present?")]
    contractors: Annotated[list[Contractor], BeforeValidator(_none_as_empty)] = []
    retention: Retention
    eu_origin: StrictBool = False
    gdpr: Gdpr | None = None
    evidence: Annotated[list[Evidence], BeforeValidator(_none_as_empty)] = []
    attestations: Attestations | None = None

    @field_validator("evidence")
    @classmethod
    def _evidence_ids_are_unique(cls, evidence: list[Evidence]) -> list[Evidence]:
        ids = [e.id for e in evidence]
        if twice := repeated(ids):
            raise ValueError(f"evidence ids must be unique; repeated: {', '.join(twice)}")
        return evidence

    def evidence_by_id(self) -> dict[str, Evidence]:
        return {e.id: e for e in self.evidence}

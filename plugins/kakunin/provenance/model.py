"""The provenance document, kakunin.provenance/v1 and /v2 (shared/design/provenance-document.md).

The models check shape only: types, allowed values, unknown fields. Whether the
content is acceptable is decided in `checks`, so a field whose absence has its own
reason code (a missing `approved_by` is `four_eyes`, a missing `entrustment.return_by`
is `ground.entrustment`) is optional here.

Both kinds are read by this one model and judged by the same checks: the v2 fields are
optional additions, so a v1 document that needs a v2 block (`received_by`, `opt_out.items`,
`entrustment`, ...) fails on the check that wants it, not on its `kind`.

`TODO` placeholders (a text starting with `TODO`, what `provenance upgrade` and `draft`
leave for a person) never pass and never crash:
- in a field with allowed values, a pattern or a date (`received_by`, `legal_ground`,
  `return_by`, `country`, ...) the model refuses it: a `schema` finding at that path whose
  message starts "fill in <path>";
- in free text or a list of texts (`provider.legal_name`, `entrustment.scope`,
  `opt_out.items[0]`, `purposes[0]`, an evidence `sha256`, ...) the model takes it and the
  check `check_todo` reports "fill in <path>" under the code of the block it is in
  (`provider.identity`, `ground.entrustment`, `legal_ground.opt_out`, ...; `schema` where
  no code owns the field). Other findings at that very path are then left out: they would
  only say the same thing less clearly.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, field_validator

from kakunin.provenance.fields import (
    Categories,
    CorporateNumber,
    Country,
    DocDate,
    EvidenceId,
    EvidenceIds,
    PurposeIds,
    Text,
    none_as_empty,
)
from kakunin.uniqueness import repeated

KIND_V1 = "kakunin.provenance/v1"
KIND_V2 = "kakunin.provenance/v2"
KINDS = (KIND_V1, KIND_V2)
KIND = KIND_V2  # what new documents are written as
DOCUMENT_ID_PATTERN = r"^PRV-\d{4}-\d{6}$"


class Doc(BaseModel):
    """The base of every block: unknown fields refused, values frozen, text stripped."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Party(Doc):
    """A business named in a ground block: the client, the predecessor, the party responsible for joint use."""

    legal_name: Text | None = None
    address: Text | None = None
    representative: Text | None = None


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


class CollectionMethod(StrEnum):
    """How the holder that collected the data got it from the data subjects."""

    WEB_FORM = "web_form"
    PAPER_FORM = "paper_form"
    EVENT = "event"
    REFERRAL = "referral"
    PUBLIC_REGISTRY = "public_registry"


class LegalGround(StrEnum):
    CONSENT = "consent"
    OPT_OUT = "opt_out"
    ENTRUSTMENT = "entrustment"
    BUSINESS_SUCCESSION = "business_succession"
    JOINT_USE = "joint_use"
    LEGAL_OBLIGATION = "legal_obligation"


class HolderGround(StrEnum):
    """How the data reached an upstream holder: a legal ground, or `collected` from the subjects."""

    CONSENT = "consent"
    OPT_OUT = "opt_out"
    ENTRUSTMENT = "entrustment"
    BUSINESS_SUCCESSION = "business_succession"
    JOINT_USE = "joint_use"
    LEGAL_OBLIGATION = "legal_obligation"
    COLLECTED = "collected"


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
    FOREIGN_TRANSFER = "foreign_transfer"
    OTHER = "other"


class LawfulBasis(StrEnum):
    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTERESTS = "legitimate_interests"


class Period(Doc):
    """A span of dates, both ends included."""

    start: Annotated[DocDate, Field(alias="from")]
    to: DocDate


class Provider(Doc):
    """Who gave us the data (APPI Art. 30(1)(i))."""

    kind: ProviderKind
    legal_name: Text | None = None
    address: Text | None = None
    representative: Annotated[Text | None, Field(description="Required when kind is business.")] = None
    corporate_number: CorporateNumber = None
    country: Country | None = None


class UpstreamHolder(Doc):
    """An earlier holder of the data; the chain is ordered from the provider's source to the collector."""

    legal_name: Text
    address: Text | None = None
    corporate_number: Annotated[CorporateNumber, Field(description="Optional; matched against the deny list.")] = None
    legal_ground: Annotated[HolderGround, Field(description="How the data reached this holder.")]
    collection_method: Annotated[
        CollectionMethod | None, Field(description="Required with legal_ground collected.")
    ] = None
    evidence: EvidenceIds = []


class Acquisition(Doc):
    """How the provider obtained the data (APPI Art. 30(1)(ii), 20)."""

    source: AcquisitionSource
    method: AcquisitionMethod
    received_by: Annotated[
        LegalGround | None,
        Field(description="The ground on which the provider received the data from upstream[0]."),
    ] = None
    description: Text | None = None
    period: Period | None = None
    evidence: EvidenceIds = []
    upstream: Annotated[list[UpstreamHolder], BeforeValidator(none_as_empty)] = []


class Consent(Doc):
    """The data subjects' consent to provision to third parties (APPI Art. 27(1))."""

    mechanism: ConsentMechanism
    purposes: PurposeIds = []
    obtained_between: Period | None = None
    evidence: EvidenceIds = []


class OptOut(Doc):
    """The provider's opt-out filing with the PPC (APPI Art. 27(2))."""

    ppc_filing_id: Text | None = None
    published_on: DocDate | None = None
    items: Annotated[Categories | None, Field(description="The item categories filed with the PPC.")] = None
    evidence: EvidenceIds = []


class Entrustment(Doc):
    """Data a client entrusted us with, to process on its instructions only (APPI Art. 27(5)(i))."""

    client: Party | None = None
    scope: Text | None = None
    return_by: DocDate | None = None
    evidence: EvidenceIds = []


class JointUse(Doc):
    """Data used jointly within a notified group (APPI Art. 27(5)(iii))."""

    responsible: Party | None = None
    users: Text | None = None
    items: Categories = []
    purposes: PurposeIds = []
    notified_on: DocDate | None = None
    evidence: EvidenceIds = []


class Succession(Doc):
    """Data taken over in a merger or business transfer (APPI Art. 27(5)(ii), 18(2))."""

    predecessor: Party | None = None
    effective_on: DocDate | None = None
    purposes: PurposeIds = []
    evidence: EvidenceIds = []


class LegalObligation(Doc):
    """The provision the law requires or permits (APPI Art. 27(1)(i)-(vii))."""

    law: Text | None = None
    evidence: EvidenceIds = []


class Notice(Doc):
    """How our purposes were notified or published (APPI Art. 21)."""

    method: NoticeMethod
    url: Annotated[str | None, Field(pattern=r"^https?://\S+$", max_length=2000)] = None
    version_date: DocDate | None = None
    purposes: PurposeIds = []


class DataItem(Doc):
    """One column of the file that holds personal information, with its category."""

    column: Annotated[str, Field(min_length=1, max_length=128)]
    category: Annotated[str, Field(min_length=1, max_length=128)]


class Contractor(Doc):
    """A contractor that handled the data, with its sub-contractors at any depth (APPI Art. 25, 28)."""

    legal_name: Text
    role: Annotated[str, Field(min_length=1, max_length=128)]
    country: Annotated[Country, Field(description="ISO 3166-1 alpha-2; JP unless said.")] = "JP"
    approved_on: DocDate | None = None
    security_reviewed_on: DocDate | None = None
    evidence: EvidenceIds = []
    subcontractors: Annotated[list[Contractor], BeforeValidator(none_as_empty)] = []


class Retention(Doc):
    """How long we keep the records, counted from which clock (APPI Art. 22)."""

    period: Annotated[str, Field(description="ISO 8601 duration, e.g. P3Y.")]
    clock: Annotated[str, Field(description="received_on | column:<date column>")] = "received_on"
    basis: Text | None = None


class Art14Notice(Doc):
    """When the data subjects were told where their data came from (GDPR Art. 14)."""

    provided_on: DocDate
    evidence: EvidenceIds = []


class Gdpr(Doc):
    """GDPR facts for EU-origin data."""

    lawful_basis: LawfulBasis | None = None
    art14_notice: Art14Notice | None = None
    purposes_at_transfer: Annotated[
        PurposeIds | None, Field(description="The purposes specified when the data left the EU.")
    ] = None


class Evidence(Doc):
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


class Attestations(Doc):
    """The employee's confirmation that no red flag was seen (PPC FAQ Q4-3)."""

    no_confidential_markings: StrictBool | None = None
    no_payment_card_data: StrictBool | None = None
    provider_identity_verified: StrictBool | None = None


class ProvenanceDocument(Doc):
    """kakunin.provenance/v1 or /v2: the machine-checkable record of a lawful acquisition."""

    kind: Literal["kakunin.provenance/v1", "kakunin.provenance/v2"]
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
    entrustment: Entrustment | None = None
    joint_use: JointUse | None = None
    succession: Succession | None = None
    legal_obligation: LegalObligation | None = None
    notice: Notice | None = None
    purposes: Annotated[list[str], Field(min_length=1)]
    data_items: Annotated[list[DataItem], BeforeValidator(none_as_empty)] = []
    special_care: Annotated[StrictBool, Field(description="要配慮個人情報 (APPI Art. 2(3)) present?")]
    contractors: Annotated[list[Contractor], BeforeValidator(none_as_empty)] = []
    retention: Retention
    eu_origin: StrictBool = False
    gdpr: Gdpr | None = None
    evidence: Annotated[list[Evidence], BeforeValidator(none_as_empty)] = []
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

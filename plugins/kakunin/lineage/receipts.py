"""The receipt record (APPI Art. 30(3)): what the recipient must be able to show about one batch.

`kakunin.receipt/v2` (written since provenance v2) carries only what applies to the batch's
legal ground: the `consent` block for consent; `opt_out` (filing id, `published_on`, filed
items) for opt-out; the `entrustment`, `joint_use`, `succession` or `legal_obligation`
block for those grounds. The other blocks are absent, not null, so an auditor reading a
consent receipt never meets an opt-out field. Every receipt also carries how the provider
got the data: `acquisition.received_by` and the whole upstream chain down to the collector.

`kakunin.receipt/v1` records (written before) stay readable: `read_receipt` returns either
kind, and both have the fields retention and trace read (`dataset`, `batch_id`,
`keep_until`, `keep_rule`, `provider`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

RECEIPT_KIND_V1 = "kakunin.receipt/v1"
RECEIPT_KIND = "kakunin.receipt/v2"

# legal_ground → the one block a v2 receipt carries for it
GROUND_BLOCKS: dict[str, str] = {
    "consent": "consent",
    "opt_out": "opt_out",
    "entrustment": "entrustment",
    "joint_use": "joint_use",
    "business_succession": "succession",
    "legal_obligation": "legal_obligation",
}


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class ReceiptProvider(_Record):
    kind: str
    legal_name: str | None
    address: str | None
    representative: str | None
    corporate_number: str | None


class ReceiptV1(_Record):
    """The recipient's confirmation record as written before provenance v2 (read, never written)."""

    kind: Literal["kakunin.receipt/v1"] = "kakunin.receipt/v1"
    dataset: str
    batch_id: str
    created_at: datetime
    keep_until: date
    keep_rule: str
    received_on: date
    provenance_document_id: str
    provenance_document_sha256: str
    provider: ReceiptProvider
    acquisition_source: str
    acquisition_method: str
    acquisition_description: str | None
    legal_ground: str
    consent_mechanism: str | None
    ppc_filing_id: str | None
    data_items: list[dict[str, str]]
    purposes: list[str]
    subject_key_columns: list[str]
    manifest_key: str
    records: int


class ReceiptParty(_Record):
    """A business a ground block names: the client, the predecessor, the party responsible for joint use."""

    legal_name: str | None
    address: str | None
    representative: str | None = None


class ReceiptPeriod(_Record):
    """A span of dates, both ends included, written `{from, to}` as in the provenance document."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_by_name=True, serialize_by_alias=True, defer_build=True
    )

    start: Annotated[date, Field(alias="from")]
    to: date


class ReceiptUpstream(_Record):
    """An earlier holder, in the document's order: upstream[0] gave the data to the provider."""

    legal_name: str
    address: str | None
    corporate_number: str | None
    legal_ground: str = Field(description="how the data reached this holder; `collected` for the collector")
    collection_method: str | None
    evidence: list[str]


class ReceiptAcquisition(_Record):
    """How the provider obtained the data (APPI Art. 30(1)(ii))."""

    source: str
    method: str
    description: str | None
    received_by: str | None = Field(description="the ground on which the provider received it; null if it collected")
    upstream: list[ReceiptUpstream]


class ReceiptConsent(_Record):
    mechanism: str
    purposes: list[str]
    obtained_between: ReceiptPeriod | None
    evidence: list[str]


class ReceiptOptOut(_Record):
    """The provider's PPC filing: what APPI Art. 30(3) asks a recipient to note of an opt-out provision."""

    ppc_filing_id: str | None
    published_on: date | None
    items: list[str]


class ReceiptEntrustment(_Record):
    client: ReceiptParty
    scope: str | None
    return_by: date | None
    evidence: list[str]


class ReceiptJointUse(_Record):
    responsible: ReceiptParty
    users: str | None
    items: list[str]
    purposes: list[str]
    notified_on: date | None
    evidence: list[str]


class ReceiptSuccession(_Record):
    predecessor: ReceiptParty
    effective_on: date | None
    purposes: list[str]
    evidence: list[str]


class ReceiptLegalObligation(_Record):
    law: str | None
    evidence: list[str]


class Receipt(_Record):
    """The recipient's confirmation record (APPI Art. 30(3)), kept until `keep_until`: one ground block only."""

    kind: Literal["kakunin.receipt/v2"] = "kakunin.receipt/v2"
    dataset: str
    batch_id: str
    created_at: datetime
    keep_until: date
    keep_rule: str
    received_on: date
    provenance_document_id: str
    provenance_document_sha256: str
    provider: ReceiptProvider
    acquisition: ReceiptAcquisition
    legal_ground: Literal["consent", "opt_out", "entrustment", "business_succession", "joint_use", "legal_obligation"]
    consent: ReceiptConsent | None = Field(default=None, description="present only for ground consent")
    opt_out: ReceiptOptOut | None = Field(default=None, description="present only for ground opt_out")
    entrustment: ReceiptEntrustment | None = Field(default=None, description="present only for ground entrustment")
    joint_use: ReceiptJointUse | None = Field(default=None, description="present only for ground joint_use")
    succession: ReceiptSuccession | None = Field(
        default=None, description="present only for ground business_succession"
    )
    legal_obligation: ReceiptLegalObligation | None = Field(
        default=None, description="present only for ground legal_obligation"
    )
    data_items: list[dict[str, str]]
    purposes: list[str]
    subject_key_columns: list[str]
    manifest_key: str
    records: int
    approved_by_user: str | None = Field(
        default=None,
        description="the user id that approved the batch with `kakunin provenance approve` (二者確認); absent when "
        "the document's approved_by was the approval",
    )
    approved_by_user_authenticated_by: str | None = Field(
        default=None, description="who vouched for approved_by_user: `airflow`, or null: self-declared"
    )

    @model_validator(mode="after")
    def _only_the_grounds_block(self) -> Receipt:
        wanted = GROUND_BLOCKS[self.legal_ground]
        present = {block for block in GROUND_BLOCKS.values() if getattr(self, block) is not None}
        if present != {wanted}:
            raise ValueError(
                f"a {self.legal_ground} receipt carries the {wanted} block and no other; found {sorted(present)}"
            )
        return self

    @model_serializer(mode="wrap")
    def _without_other_grounds(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The blocks of other grounds, and the approver when there is none, are left out, not written as null."""
        data: dict[str, Any] = handler(self)
        for block in GROUND_BLOCKS.values():
            if data.get(block) is None:
                data.pop(block, None)
        if data.get("approved_by_user") is None:  # the document's approved_by was the approval: as before
            data.pop("approved_by_user", None)
            data.pop("approved_by_user_authenticated_by", None)
        return data


class StoredReceipt(RootModel[Annotated[ReceiptV1 | Receipt, Field(discriminator="kind")]]):
    """A receipt record of either kind, as found in the store (`lineage/receipts/<dataset>/<batch_id>.json`)."""

    model_config = ConfigDict(defer_build=True)


def read_receipt(data: bytes) -> ReceiptV1 | Receipt:
    """A stored receipt record, v1 or v2."""
    return StoredReceipt.model_validate_json(data).root

"""What the data is for and what it holds: purposes, the notice, data items, and GDPR's purposes."""

from __future__ import annotations

from collections.abc import Iterator

from kakunin.codes import ReasonCode as R
from kakunin.provenance.checks.base import CheckContext, blank
from kakunin.provenance.findings import Finding
from kakunin.provenance.model import LegalGround, NoticeMethod, ProvenanceDocument


def check_purposes(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    consent = doc.consent if doc.legal_ground is LegalGround.CONSENT else None
    for i, purpose in enumerate(doc.purposes):
        path = f"purposes[{i}]"
        if purpose not in ctx.registered_purposes:
            yield Finding.of(R.PURPOSE_UNREGISTERED, path, f"purpose {purpose!r} is not in expectations/purposes.yaml")
        elif ctx.contract is not None and purpose not in ctx.contract.allowed_purposes:
            yield Finding.of(
                R.PURPOSE_NOT_PERMITTED,
                path,
                f"dataset {ctx.contract.dataset} may not be used for {purpose!r} (利用目的の制限); "
                f"allowed: {', '.join(ctx.contract.allowed_purposes)}",
            )
        if consent is not None and purpose not in consent.purposes:
            yield Finding.of(
                R.PURPOSE_BEYOND_CONSENT,
                path,
                f"purpose {purpose!r} is not among the purposes the subjects consented to",
            )


def check_notice(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    """Our notice of purposes (Art. 21); not for entrustment, where the client's notice covers the data."""
    if doc.legal_ground is LegalGround.ENTRUSTMENT:
        return
    notice = doc.notice
    if notice is None:
        yield Finding.of(
            R.NOTICE_MISSING, "notice", "no notice: how were the purposes notified or published (通知・公表)?"
        )
        return
    if notice.method is NoticeMethod.PUBLISHED and blank(notice.url):
        yield Finding.of(
            R.NOTICE_MISSING, "notice.url", "a published notice (公表) needs the url where it is published"
        )
    for purpose in doc.purposes:
        if purpose not in notice.purposes:
            yield Finding.of(R.NOTICE_MISSING, "notice.purposes", f"purpose {purpose!r} was not notified or published")
    if notice.version_date is not None and notice.version_date > doc.received_on:
        yield Finding.of(
            R.NOTICE_LATE,
            "notice.version_date",
            f"the notice's version of {notice.version_date} is after the data was received on {doc.received_on}: "
            "allowed if it was prompt (速やかに通知・公表, Art. 21(1)); worth a look",
        )


def check_data_items(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    if ctx.contract is None:
        return
    declared = {item.column for item in doc.data_items}
    for column in ctx.contract.personal_columns:
        if column.name not in declared:
            yield Finding.of(
                R.DATA_ITEMS_UNDECLARED,
                "data_items",
                f"personal column {column.name!r} ({column.category}) is not declared (個人データの項目)",
            )
    for i, item in enumerate(doc.data_items):
        if item.column not in ctx.contract.columns_by_name:
            yield Finding.of(
                R.DATA_ITEMS_UNDECLARED,
                f"data_items[{i}].column",
                f"column {item.column!r} is not a column of dataset {ctx.contract.dataset}",
            )


def check_gdpr(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    if not doc.eu_origin:
        return
    if doc.gdpr is None:
        yield Finding.of(R.GDPR_MISSING, "gdpr", "EU-origin data needs a gdpr block (lawful basis and Art. 14 notice)")
        return
    if doc.gdpr.lawful_basis is None:
        yield Finding.of(R.GDPR_MISSING, "gdpr.lawful_basis", "EU-origin data needs its GDPR lawful basis (Art. 6)")
    if doc.gdpr.art14_notice is None:
        yield Finding.of(R.GDPR_MISSING, "gdpr.art14_notice", "EU-origin data needs the Art. 14 notice to the subjects")


def check_gdpr_purposes(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    """EU-origin data stays within the purposes specified when it left the EU (補完的ルール(3)).

    A missing gdpr block is `gdpr.missing` alone, as a missing consent block is
    `legal_ground.consent` alone: the block's contents are judged once it exists.
    """
    if not doc.eu_origin or doc.gdpr is None:
        return
    at_transfer = doc.gdpr.purposes_at_transfer
    if at_transfer is None:
        yield Finding.of(
            R.GDPR_PURPOSE_AT_TRANSFER,
            "gdpr.purposes_at_transfer",
            "EU-origin data needs the purposes specified when it left the EU (移転時に特定された利用目的)",
        )
        return
    for i, purpose in enumerate(doc.purposes):
        if purpose not in at_transfer:
            yield Finding.of(
                R.GDPR_PURPOSE_AT_TRANSFER,
                f"purposes[{i}]",
                f"purpose {purpose!r} is not among the purposes specified at transfer from the EU "
                f"({', '.join(at_transfer) or 'none'})",
            )

"""The checks of provenance-document.md, as pure functions over a parsed document.

Each check looks at one duty and yields findings; `check_document` runs them all so a
person gets every problem at once. Nothing here reads files or the clock: evidence
file states and `today` come in as arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from pydantic import BaseModel

from kakunin.codes import ReasonCode as R
from kakunin.contracts import ColumnType, DatasetContract
from kakunin.durations import DurationError, add_months, parse_duration
from kakunin.provenance.findings import Finding
from kakunin.provenance.model import (
    AcquisitionMethod,
    AcquisitionSource,
    Contractor,
    EvidenceKind,
    LegalGround,
    NoticeMethod,
    ProvenanceDocument,
    ProviderKind,
)


class EvidenceFileState(StrEnum):
    """What was found at an evidence entry's `file` (decided by `evidence.inspect_evidence`)."""

    OK = "ok"
    MISSING = "missing"
    UNSAFE = "unsafe"
    HASH_MISMATCH = "hash_mismatch"


@dataclass(frozen=True)
class CheckContext:
    """Everything a check may look at besides the document."""

    contract: DatasetContract | None
    registered_purposes: frozenset[str]
    today: date
    evidence_states: Mapping[str, EvidenceFileState]


Check = Callable[[ProvenanceDocument, CheckContext], Iterator[Finding]]
_REVIEW_GROUNDS = {
    LegalGround.ENTRUSTMENT: "27(5)",
    LegalGround.BUSINESS_SUCCESSION: "27(5)",
    LegalGround.JOINT_USE: "27(5)",
    LegalGround.LEGAL_OBLIGATION: "27(1)",
}


def check_document(doc: ProvenanceDocument, context: CheckContext) -> list[Finding]:
    """Every finding for `doc`, in the order of the spec's table."""
    return [finding for check in CHECKS for finding in check(doc, context)]


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def check_dataset(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    if ctx.contract is None:
        yield Finding.of(R.DATASET_UNKNOWN, "dataset", f"dataset {doc.dataset!r} has no contract in expectations/")


def check_four_eyes(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    if _blank(doc.approved_by):
        yield Finding.of(
            R.FOUR_EYES, "approved_by", "approved_by is missing: a second employee must approve (二者確認)"
        )
    elif doc.approved_by.strip().casefold() == doc.submitted_by.strip().casefold():  # type: ignore[union-attr]
        yield Finding.of(
            R.FOUR_EYES,
            "approved_by",
            "approved_by is the submitter; a second, different employee must approve (二者確認)",
        )


def is_valid_corporate_number(number: str) -> bool:
    """法人番号: 13 digits; the first is 9 - (Σ digit·(1 or 2) over the other 12, from the right) mod 9."""
    if len(number) != 13 or not number.isascii() or not number.isdigit():
        return False
    base = number[1:]
    weighted = sum(int(d) * (1 if n % 2 else 2) for n, d in enumerate(reversed(base), start=1))
    return int(number[0]) == 9 - weighted % 9


def check_provider_identity(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    provider = doc.provider
    if _blank(provider.legal_name):
        yield Finding.of(R.PROVIDER_IDENTITY, "provider.legal_name", "the provider's name (氏名又は名称) is empty")
    if _blank(provider.address):
        yield Finding.of(R.PROVIDER_IDENTITY, "provider.address", "the provider's address (住所) is empty")
    if provider.kind is ProviderKind.BUSINESS and _blank(provider.representative):
        yield Finding.of(
            R.PROVIDER_IDENTITY,
            "provider.representative",
            "a business provider needs its representative (代表者の氏名)",
        )
    number = provider.corporate_number
    if number is not None and not is_valid_corporate_number(number):
        yield Finding.of(
            R.PROVIDER_IDENTITY,
            "provider.corporate_number",
            "corporate number (法人番号) must be 13 digits with a valid check digit",
        )


def check_acquisition_documented(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    acquisition = doc.acquisition
    if not acquisition.evidence:
        yield Finding.of(
            R.ACQUISITION_UNDOCUMENTED,
            "acquisition.evidence",
            "no evidence of how the provider acquired the data (取得の経緯); name at least one evidence id",
        )
    if acquisition.method is AcquisitionMethod.OTHER and _blank(acquisition.description):
        yield Finding.of(
            R.ACQUISITION_UNDOCUMENTED, "acquisition.description", "method 'other' needs a description of how"
        )


def check_acquisition_chain(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    acquisition = doc.acquisition
    if acquisition.source is AcquisitionSource.ANOTHER_BUSINESS and not acquisition.upstream:
        yield Finding.of(
            R.ACQUISITION_CHAIN,
            "acquisition.upstream",
            "source is another_business: name each earlier holder under upstream",
        )
    for i, holder in enumerate(acquisition.upstream):
        path = f"acquisition.upstream[{i}]"
        if not holder.evidence:
            yield Finding.of(R.ACQUISITION_CHAIN, f"{path}.evidence", "an upstream holder needs evidence")
        if holder.legal_ground is LegalGround.OPT_OUT and doc.legal_ground is LegalGround.OPT_OUT:
            yield Finding.of(
                R.ACQUISITION_CHAIN,
                f"{path}.legal_ground",
                "data received by opt-out cannot be provided on by opt-out again (オプトアウトによる再提供の禁止)",
            )


def _evidence_kinds(doc: ProvenanceDocument, ids: list[str]) -> set[EvidenceKind]:
    defined = doc.evidence_by_id()
    return {defined[i].kind for i in ids if i in defined}


def check_consent_ground(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    if doc.legal_ground is not LegalGround.CONSENT:
        return
    if doc.consent is None:
        yield Finding.of(
            R.LEGAL_GROUND_CONSENT, "consent", "legal ground is consent (本人の同意) but there is no consent block"
        )
    elif EvidenceKind.CONSENT_RECORD not in _evidence_kinds(doc, doc.consent.evidence):
        yield Finding.of(
            R.LEGAL_GROUND_CONSENT, "consent.evidence", "consent needs evidence of kind consent_record (同意の記録)"
        )


def check_opt_out_ground(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    if doc.legal_ground is not LegalGround.OPT_OUT:
        return
    opt_out = doc.opt_out
    if opt_out is None:
        yield Finding.of(
            R.LEGAL_GROUND_OPT_OUT, "opt_out", "legal ground is opt_out (オプトアウト) but there is no opt_out block"
        )
    else:
        if _blank(opt_out.ppc_filing_id):
            yield Finding.of(
                R.LEGAL_GROUND_OPT_OUT,
                "opt_out.ppc_filing_id",
                "the provider's PPC filing id (個人情報保護委員会への届出) is missing",
            )
        if opt_out.published_on is None:
            yield Finding.of(R.LEGAL_GROUND_OPT_OUT, "opt_out.published_on", "the filing's publication date is missing")
        if EvidenceKind.PPC_FILING not in _evidence_kinds(doc, opt_out.evidence):
            yield Finding.of(R.LEGAL_GROUND_OPT_OUT, "opt_out.evidence", "opt-out needs evidence of kind ppc_filing")
    if doc.special_care:
        yield Finding.of(
            R.LEGAL_GROUND_OPT_OUT,
            "special_care",
            "special-care data (要配慮個人情報) can never be provided by opt-out",
        )


def check_special_care(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    if doc.special_care and doc.legal_ground is not LegalGround.CONSENT:
        yield Finding.of(
            R.SPECIAL_CARE_CONSENT,
            "special_care",
            f"special-care data (要配慮個人情報) needs the subjects' consent; ground is {doc.legal_ground.value}",
        )


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
    notice = doc.notice
    if notice is None:
        yield Finding.of(
            R.NOTICE_MISSING, "notice", "no notice: how were the purposes notified or published (通知・公表)?"
        )
        return
    if notice.method is NoticeMethod.PUBLISHED and _blank(notice.url):
        yield Finding.of(
            R.NOTICE_MISSING, "notice.url", "a published notice (公表) needs the url where it is published"
        )
    for purpose in doc.purposes:
        if purpose not in notice.purposes:
            yield Finding.of(R.NOTICE_MISSING, "notice.purposes", f"purpose {purpose!r} was not notified or published")


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


def _walk_contractors(contractors: list[Contractor], prefix: str) -> Iterator[tuple[str, Contractor]]:
    for i, contractor in enumerate(contractors):
        path = f"{prefix}[{i}]"
        yield path, contractor
        yield from _walk_contractors(contractor.subcontractors, f"{path}.subcontractors")


def check_contractors(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    stale_before = add_months(doc.received_on, -12)
    for path, contractor in _walk_contractors(doc.contractors, "contractors"):
        if contractor.approved_on is None:
            yield Finding.of(
                R.CONTRACTOR_UNAPPROVED, f"{path}.approved_on", f"{contractor.role} was never approved (委託先の承認)"
            )
        elif contractor.approved_on > doc.received_on:
            yield Finding.of(
                R.CONTRACTOR_UNAPPROVED,
                f"{path}.approved_on",
                f"approved on {contractor.approved_on}, after the data was received on {doc.received_on}",
            )
        reviewed = contractor.security_reviewed_on
        if reviewed is None or reviewed < stale_before:
            found = "never reviewed" if reviewed is None else f"last reviewed on {reviewed}"
            yield Finding.of(
                R.CONTRACTOR_REVIEW_STALE,
                f"{path}.security_reviewed_on",
                f"security measures should be reviewed within 12 months before receipt (安全管理措置の確認); {found}",
            )


def _evidence_references(doc: ProvenanceDocument) -> Iterator[tuple[str, str]]:
    """(path, id) for every place the document cites an evidence id, in the blocks that apply.

    A `consent`, `opt_out` or `gdpr` block that the legal ground or origin does not call
    for is not relied on (the spec's own example carries all three), so its citations
    are not held against the document.
    """
    yield from ((f"acquisition.evidence[{j}]", e) for j, e in enumerate(doc.acquisition.evidence))
    for i, holder in enumerate(doc.acquisition.upstream):
        yield from ((f"acquisition.upstream[{i}].evidence[{j}]", e) for j, e in enumerate(holder.evidence))
    if doc.consent is not None and doc.legal_ground is LegalGround.CONSENT:
        yield from ((f"consent.evidence[{j}]", e) for j, e in enumerate(doc.consent.evidence))
    if doc.opt_out is not None and doc.legal_ground is LegalGround.OPT_OUT:
        yield from ((f"opt_out.evidence[{j}]", e) for j, e in enumerate(doc.opt_out.evidence))
    for path, contractor in _walk_contractors(doc.contractors, "contractors"):
        yield from ((f"{path}.evidence[{j}]", e) for j, e in enumerate(contractor.evidence))
    if doc.eu_origin and doc.gdpr is not None and doc.gdpr.art14_notice is not None:
        yield from ((f"gdpr.art14_notice.evidence[{j}]", e) for j, e in enumerate(doc.gdpr.art14_notice.evidence))


def check_evidence(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    defined = doc.evidence_by_id()
    for path, evidence_id in _evidence_references(doc):
        if evidence_id not in defined:
            yield Finding.of(
                R.EVIDENCE_MISSING, path, f"evidence {evidence_id!r} is cited but not listed under evidence"
            )
    for i, entry in enumerate(doc.evidence):
        state = ctx.evidence_states.get(entry.id, EvidenceFileState.MISSING)
        if state is EvidenceFileState.MISSING:
            yield Finding.of(
                R.EVIDENCE_MISSING, f"evidence[{i}].file", f"file {entry.file!r} is not in the batch folder"
            )
        elif state is EvidenceFileState.UNSAFE:
            yield Finding.of(
                R.EVIDENCE_UNSAFE_PATH,
                f"evidence[{i}].file",
                f"{entry.file!r} is absolute, leaves the batch folder or goes through a link; "
                "give a plain path inside the batch folder",
            )
        elif state is EvidenceFileState.HASH_MISMATCH:
            yield Finding.of(
                R.EVIDENCE_HASH_MISMATCH,
                f"evidence[{i}].sha256",
                f"the SHA-256 of {entry.file!r} is not the one recorded: the file changed or the hash is wrong",
            )


def retention_problem(doc: ProvenanceDocument, contract: DatasetContract | None) -> tuple[str, str] | None:
    """(path, message) of the first reason the retention block is invalid, or None."""
    try:
        period = parse_duration(doc.retention.period)
    except DurationError as exc:
        return "retention.period", str(exc)
    if period.is_zero:
        return "retention.period", f"{doc.retention.period!r} is zero; data must be kept for a positive period"
    if contract is not None and contract.retention_exceeds_max(period, start=doc.received_on):
        return (
            "retention.period",
            f"{doc.retention.period} is longer than dataset {contract.dataset}'s maximum {contract.max_retention}",
        )
    clock = doc.retention.clock
    if clock == "received_on":
        return None
    if not clock.startswith("column:"):
        return "retention.clock", f"clock {clock!r} must be received_on or column:<date column>"
    if contract is None:
        return None
    column = contract.columns_by_name.get(clock.removeprefix("column:"))
    if column is None or column.type is not ColumnType.DATE:
        dates = ", ".join(c.name for c in contract.columns if c.type is ColumnType.DATE)
        return "retention.clock", f"{clock!r} is not a date column of {contract.dataset} (date columns: {dates})"
    return None


def check_retention(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    problem = retention_problem(doc, ctx.contract)
    if problem is not None:
        yield Finding.of(R.RETENTION_INVALID, problem[0], problem[1] + " (保存期間)")


def _dates(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, date]]:
    """Every date in a document with its path, at any depth."""
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        path = f"{prefix}{field.alias or name}"
        if isinstance(value, date):
            yield path, value
        elif isinstance(value, BaseModel):
            yield from _dates(value, f"{path}.")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from _dates(item, f"{path}[{i}].")


def check_dates(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    for path, value in _dates(doc):
        if value > ctx.today:
            yield Finding.of(R.DATES_INCONSISTENT, path, f"{value} is in the future (today is {ctx.today})")
    periods = [("acquisition.period", doc.acquisition.period)]
    if doc.consent is not None:
        periods.append(("consent.obtained_between", doc.consent.obtained_between))
    for path, period in periods:
        if period is None:
            continue
        if period.to < period.start:
            yield Finding.of(R.DATES_INCONSISTENT, path, f"ends on {period.to}, before it starts on {period.start}")
        if period.to > doc.received_on:
            yield Finding.of(
                R.DATES_INCONSISTENT,
                f"{path}.to",
                f"ends on {period.to}, after the data was received on {doc.received_on}",
            )


def check_attestations(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    if doc.attestations is None:
        yield Finding.of(R.ATTESTATION_RED_FLAG, "attestations", "the three attestations are missing")
        return
    for name in type(doc.attestations).model_fields:
        if getattr(doc.attestations, name) is not True:
            yield Finding.of(
                R.ATTESTATION_RED_FLAG, f"attestations.{name}", f"{name} is not confirmed (true): do not take this data"
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


def check_ground_review(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    article = _REVIEW_GROUNDS.get(doc.legal_ground)
    if article is not None:
        yield Finding.of(
            R.GROUND_REVIEW,
            "legal_ground",
            f"{doc.legal_ground.value} is not third-party provision (第三者提供に該当しない); "
            "an auditor should confirm it",
            article=article,
        )


CHECKS: tuple[Check, ...] = (
    check_dataset,
    check_four_eyes,
    check_provider_identity,
    check_acquisition_documented,
    check_acquisition_chain,
    check_consent_ground,
    check_opt_out_ground,
    check_special_care,
    check_purposes,
    check_notice,
    check_data_items,
    check_contractors,
    check_evidence,
    check_retention,
    check_dates,
    check_attestations,
    check_gdpr,
    check_ground_review,
)

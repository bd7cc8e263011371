"""The supporting record: contractors, evidence files, retention, dates and the attestations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from pydantic import BaseModel

from kakunin.codes import ReasonCode as R
from kakunin.contracts import ColumnType, DatasetContract
from kakunin.durations import DurationError, add_months, parse_duration
from kakunin.provenance.checks.base import CheckContext, EvidenceFileState, evidence_kinds, walk_contractors
from kakunin.provenance.findings import Finding
from kakunin.provenance.model import EvidenceKind, LegalGround, ProvenanceDocument

HOME_COUNTRY = "JP"
# Dates that lie in the future by nature, so "in the future" is not held against them.
_FUTURE_BY_NATURE = frozenset({"entrustment.return_by"})


def check_contractors(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    stale_before = add_months(doc.received_on, -12)
    for path, contractor in walk_contractors(doc.contractors, "contractors"):
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


def check_contractors_abroad(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    for path, contractor in walk_contractors(doc.contractors, "contractors"):
        if contractor.country != HOME_COUNTRY and EvidenceKind.FOREIGN_TRANSFER not in evidence_kinds(
            doc, contractor.evidence
        ):
            yield Finding.of(
                R.CONTRACTOR_FOREIGN,
                f"{path}.country",
                f"{contractor.legal_name} is in {contractor.country} (外国にある第三者): it needs evidence of kind "
                "foreign_transfer (an equivalent-measures agreement, or consent given with the information of "
                "Enforcement Rules Art. 17)",
            )


def _cited(prefix: str, ids: list[str]) -> Iterator[tuple[str, str]]:
    return ((f"{prefix}[{j}]", e) for j, e in enumerate(ids))


def _evidence_references(doc: ProvenanceDocument) -> Iterator[tuple[str, str]]:
    """(path, id) for every place the document cites an evidence id, in the blocks that apply.

    A ground block that the legal ground does not call for, or a `gdpr` block on data
    that is not from the EU, is not relied on (the spec's own example carries unused
    blocks), so its citations are not held against the document.
    """
    yield from _cited("acquisition.evidence", doc.acquisition.evidence)
    for i, holder in enumerate(doc.acquisition.upstream):
        yield from _cited(f"acquisition.upstream[{i}].evidence", holder.evidence)
    grounds = {
        LegalGround.CONSENT: doc.consent,
        LegalGround.OPT_OUT: doc.opt_out,
        LegalGround.ENTRUSTMENT: doc.entrustment,
        LegalGround.JOINT_USE: doc.joint_use,
        LegalGround.BUSINESS_SUCCESSION: doc.succession,
        LegalGround.LEGAL_OBLIGATION: doc.legal_obligation,
    }
    block = grounds[doc.legal_ground]
    if block is not None:
        name = "succession" if doc.legal_ground is LegalGround.BUSINESS_SUCCESSION else doc.legal_ground.value
        yield from _cited(f"{name}.evidence", block.evidence)
    for path, contractor in walk_contractors(doc.contractors, "contractors"):
        yield from _cited(f"{path}.evidence", contractor.evidence)
    if doc.eu_origin and doc.gdpr is not None and doc.gdpr.art14_notice is not None:
        yield from _cited("gdpr.art14_notice.evidence", doc.gdpr.art14_notice.evidence)


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
        if value > ctx.today and path not in _FUTURE_BY_NATURE:
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

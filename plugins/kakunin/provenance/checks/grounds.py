"""The legal ground: is the ground's block complete, and does the batch stay within it?

Consent and opt-out are third-party provision (APPI Art. 27(1), 27(2)); entrustment,
business succession and joint use are not (Art. 27(5)) and each has its own block;
legal obligation (Art. 27(1)(i)-(vii)) names the law. Special-care data sits here too,
since whether it may come at all depends on the ground.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from kakunin.codes import ReasonCode as R
from kakunin.codes import Severity
from kakunin.durations import DurationError, parse_duration
from kakunin.provenance.checks.base import CheckContext, blank, evidence_kinds
from kakunin.provenance.findings import Finding
from kakunin.provenance.model import EvidenceKind, LegalGround, Party, ProvenanceDocument

ENTRUSTED_PROCESSING = "entrusted_processing"


def check_consent_ground(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    if doc.legal_ground is not LegalGround.CONSENT:
        return
    if doc.consent is None:
        yield Finding.of(
            R.LEGAL_GROUND_CONSENT, "consent", "legal ground is consent (本人の同意) but there is no consent block"
        )
    elif EvidenceKind.CONSENT_RECORD not in evidence_kinds(doc, doc.consent.evidence):
        yield Finding.of(
            R.LEGAL_GROUND_CONSENT, "consent.evidence", "consent needs evidence of kind consent_record (同意の記録)"
        )


def check_opt_out_ground(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    if doc.legal_ground is not LegalGround.OPT_OUT:
        return
    if doc.opt_out is None:
        yield Finding.of(
            R.LEGAL_GROUND_OPT_OUT, "opt_out", "legal ground is opt_out (オプトアウト) but there is no opt_out block"
        )
    else:
        yield from _check_opt_out_block(doc)
    if doc.special_care:
        yield Finding.of(
            R.LEGAL_GROUND_OPT_OUT,
            "special_care",
            "special-care data (要配慮個人情報) can never be provided by opt-out",
        )
    if doc.acquisition.received_by is LegalGround.OPT_OUT:
        yield Finding.of(
            R.LEGAL_GROUND_OPT_OUT,
            "acquisition.received_by",
            "the provider itself received this data by opt-out (オプトアウトにより取得した個人データ): "
            "it cannot be provided on by opt-out",
        )


def _check_opt_out_block(doc: ProvenanceDocument) -> Iterator[Finding]:
    opt_out = doc.opt_out
    assert opt_out is not None  # noqa: S101 - the caller checked
    if blank(opt_out.ppc_filing_id):
        yield Finding.of(
            R.LEGAL_GROUND_OPT_OUT,
            "opt_out.ppc_filing_id",
            "the provider's PPC filing id (個人情報保護委員会への届出) is missing",
        )
    if opt_out.published_on is None:
        yield Finding.of(R.LEGAL_GROUND_OPT_OUT, "opt_out.published_on", "the filing's publication date is missing")
    elif opt_out.published_on > doc.received_on:
        yield Finding.of(
            R.LEGAL_GROUND_OPT_OUT,
            "opt_out.published_on",
            f"the filing was published on {opt_out.published_on}, after the data was received on {doc.received_on}: "
            "opt-out provision is lawful only once the filing is public (届出・公表の後)",
        )
    if opt_out.items is None:
        yield Finding.of(
            R.LEGAL_GROUND_OPT_OUT,
            "opt_out.items",
            "the items filed with the PPC (届出に係る個人データの項目) are missing; list their categories",
        )
    else:
        uncovered = [c for c in dict.fromkeys(i.category for i in doc.data_items) if c not in opt_out.items]
        if uncovered:
            yield Finding.of(
                R.LEGAL_GROUND_OPT_OUT,
                "opt_out.items",
                f"the file holds items the filing does not cover: {', '.join(uncovered)}; "
                "only the filed items may be provided by opt-out",
            )
    if EvidenceKind.PPC_FILING not in evidence_kinds(doc, opt_out.evidence):
        yield Finding.of(R.LEGAL_GROUND_OPT_OUT, "opt_out.evidence", "opt-out needs evidence of kind ppc_filing")


def _party_gaps(party: Party | None, path: str, fields: tuple[str, ...], what: str) -> Iterator[tuple[str, str]]:
    """(path, message) for a missing party or each blank field of it."""
    if party is None:
        yield path, f"{what} is missing ({', '.join(fields)})"
        return
    for field in fields:
        if blank(getattr(party, field)):
            yield f"{path}.{field}", f"{what}: {field} is empty"


def check_entrustment(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    if doc.legal_ground is not LegalGround.ENTRUSTMENT:
        return
    code = R.GROUND_ENTRUSTMENT
    block = doc.entrustment
    if block is None:
        yield Finding.of(
            code,
            "entrustment",
            "legal ground is entrustment (委託) but there is no entrustment block (client, scope, return_by, evidence)",
        )
    else:
        for path, message in _party_gaps(
            block.client, "entrustment.client", ("legal_name", "address"), "the client (委託元)"
        ):
            yield Finding.of(code, path, message)
        if blank(block.scope):
            yield Finding.of(code, "entrustment.scope", "the scope of the entrusted processing (委託の範囲) is empty")
        if block.return_by is None:
            yield Finding.of(
                code,
                "entrustment.return_by",
                "return_by is missing: when is the data returned or deleted (返却・削除の期限)?",
            )
        elif block.return_by < doc.received_on:
            yield Finding.of(
                code,
                "entrustment.return_by",
                f"return_by {block.return_by} is before the data was received on {doc.received_on}",
            )
        elif (end := _retention_end(doc)) is not None and end > block.return_by:
            yield Finding.of(
                code,
                "retention.period",
                f"retention {doc.retention.period} keeps the data until {end}, after return_by {block.return_by}: "
                "entrusted data must go back or be deleted by then",
            )
        if EvidenceKind.CONTRACT not in evidence_kinds(doc, block.evidence):
            yield Finding.of(
                code,
                "entrustment.evidence",
                "entrustment needs the contract with the client (委託契約書), kind contract",
            )
    if set(doc.purposes) != {ENTRUSTED_PROCESSING}:
        yield Finding.of(
            code,
            "purposes",
            f"entrusted data (委託) may be handled only on the client's instructions: purposes must be exactly "
            f"[{ENTRUSTED_PROCESSING}]; found [{', '.join(doc.purposes)}]",
        )


def _retention_end(doc: ProvenanceDocument) -> date | None:
    """The day the retention period counted from received_on ends, or None when the period is invalid.

    With a column clock a record counts from its own date, usually before received_on and so
    ending earlier; the gate judges the period the document states, from the day of receipt.
    """
    try:
        return parse_duration(doc.retention.period).add_to(doc.received_on)
    except DurationError:
        return None  # retention.invalid says so


def _purposes_within(doc: ProvenanceDocument, allowed: list[str], code: R, why: str) -> Iterator[Finding]:
    for i, purpose in enumerate(doc.purposes):
        if purpose not in allowed:
            yield Finding.of(code, f"purposes[{i}]", f"purpose {purpose!r} is not among {why}")


def check_joint_use(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    if doc.legal_ground is not LegalGround.JOINT_USE:
        return
    code = R.GROUND_JOINT_USE
    block = doc.joint_use
    if block is None:
        yield Finding.of(
            code,
            "joint_use",
            "legal ground is joint_use (共同利用) but there is no joint_use block "
            "(responsible, users, items, purposes, notified_on, evidence)",
        )
        return
    fields = ("legal_name", "address", "representative")
    for path, message in _party_gaps(
        block.responsible, "joint_use.responsible", fields, "the responsible party (責任者)"
    ):
        yield Finding.of(code, path, message)
    if blank(block.users):
        yield Finding.of(code, "joint_use.users", "who uses the data jointly (共同して利用する者の範囲) is empty")
    if block.notified_on is None:
        yield Finding.of(
            code, "joint_use.notified_on", "when the joint use was notified or published (通知・公表日) is missing"
        )
    elif block.notified_on > doc.received_on:
        yield Finding.of(
            code,
            "joint_use.notified_on",
            f"the joint use was notified on {block.notified_on}, after the data was received on {doc.received_on}: "
            "it must be notified or published in advance (あらかじめ通知・公表)",
        )
    if EvidenceKind.PRIVACY_NOTICE not in evidence_kinds(doc, block.evidence):
        yield Finding.of(
            code, "joint_use.evidence", "joint use needs the notice or publication of it, kind privacy_notice"
        )
    yield from _purposes_within(
        doc, block.purposes, code, "the purposes notified for the joint use (joint_use.purposes)"
    )
    for i, item in enumerate(doc.data_items):
        if item.category not in block.items:
            yield Finding.of(
                code,
                f"data_items[{i}].category",
                f"{item.category} is not among the items notified as jointly used (joint_use.items)",
            )


def check_succession(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    if doc.legal_ground is not LegalGround.BUSINESS_SUCCESSION:
        return
    code = R.GROUND_SUCCESSION
    block = doc.succession
    if block is None:
        yield Finding.of(
            code,
            "succession",
            "legal ground is business_succession (事業承継) but there is no succession block "
            "(predecessor, effective_on, purposes, evidence)",
        )
        return
    for path, message in _party_gaps(
        block.predecessor, "succession.predecessor", ("legal_name", "address"), "the predecessor (承継元)"
    ):
        yield Finding.of(code, path, message)
    if block.effective_on is None:
        yield Finding.of(code, "succession.effective_on", "the date the succession (事業承継) took effect is missing")
    elif block.effective_on > doc.received_on:
        yield Finding.of(
            code,
            "succession.effective_on",
            f"the succession takes effect on {block.effective_on}, after the data was received on {doc.received_on}",
        )
    if EvidenceKind.CONTRACT not in evidence_kinds(doc, block.evidence):
        yield Finding.of(
            code, "succession.evidence", "succession needs the merger or transfer agreement, kind contract"
        )
    yield from _purposes_within(
        doc, block.purposes, code, "the purposes the predecessor specified (承継前の利用目的, Art. 18(2))"
    )


def check_legal_obligation(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    if doc.legal_ground is not LegalGround.LEGAL_OBLIGATION:
        return
    code = R.GROUND_LEGAL_OBLIGATION
    block = doc.legal_obligation
    if block is None:
        yield Finding.of(
            code,
            "legal_obligation",
            "legal ground is legal_obligation (法令に基づく場合) but there is no "
            "legal_obligation block (law, evidence)",
        )
        return
    if blank(block.law):
        yield Finding.of(code, "legal_obligation.law", "name the provision that requires or permits it (根拠法令)")
    if not block.evidence:
        yield Finding.of(code, "legal_obligation.evidence", "legal obligation needs evidence, e.g. the request letter")


def check_special_care(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    if doc.special_care and doc.legal_ground is not LegalGround.CONSENT:
        yield Finding.of(
            R.SPECIAL_CARE_CONSENT,
            "special_care",
            f"special-care data (要配慮個人情報) needs the subjects' consent; ground is {doc.legal_ground.value}",
        )


def check_special_care_mismatch(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    """The flag against the columns: an error when special-care columns come unflagged, a warning the other way."""
    columns = [c.name for c in ctx.contract.special_care_columns] if ctx.contract else []
    columns += [i.column for i in doc.data_items if i.category.startswith("special_care.") and i.column not in columns]
    if columns and not doc.special_care:
        yield Finding.of(
            R.SPECIAL_CARE_MISMATCH,
            "special_care",
            f"{', '.join(columns)} hold special-care personal information (要配慮個人情報) but special_care is "
            "not true; set it to true (it then needs ground consent)",
        )
    elif doc.special_care and not columns and ctx.contract is not None:
        yield Finding.of(
            R.SPECIAL_CARE_MISMATCH,
            "special_care",
            f"special_care is true but no column of {ctx.contract.dataset} is in a special_care.* category: if the "
            "file holds 要配慮個人情報 the contract must say where; otherwise set special_care: false",
            severity=Severity.WARNING,
        )


def check_ground_review(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    if doc.legal_ground is LegalGround.LEGAL_OBLIGATION:
        yield Finding.of(
            R.GROUND_REVIEW,
            "legal_ground",
            "legal_obligation (法令に基づく場合) is provision without consent under Art. 27(1): accepted, "
            "an auditor should confirm the law cited",
        )

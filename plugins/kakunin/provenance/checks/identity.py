"""Who gave us the data and how they got it: dataset, four eyes, provider, deny list, the chain."""

from __future__ import annotations

from collections.abc import Iterator

from kakunin.codes import ReasonCode as R
from kakunin.contracts import DeniedProvider
from kakunin.provenance.checks.base import CheckContext, blank, evidence_kinds
from kakunin.provenance.denylist import find_denied
from kakunin.provenance.findings import Finding
from kakunin.provenance.model import (
    AcquisitionMethod,
    AcquisitionSource,
    EvidenceKind,
    HolderGround,
    LegalGround,
    ProvenanceDocument,
    ProviderKind,
)

_COLLECTOR_EVIDENCE = {EvidenceKind.CONSENT_RECORD, EvidenceKind.PRIVACY_NOTICE}


def check_dataset(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    if ctx.contract is None:
        yield Finding.of(R.DATASET_UNKNOWN, "dataset", f"dataset {doc.dataset!r} has no contract in expectations/")


def check_four_eyes(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    if blank(doc.approved_by):
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
    if blank(provider.legal_name):
        yield Finding.of(R.PROVIDER_IDENTITY, "provider.legal_name", "the provider's name (氏名又は名称) is empty")
    if blank(provider.address):
        yield Finding.of(R.PROVIDER_IDENTITY, "provider.address", "the provider's address (住所) is empty")
    if provider.kind is ProviderKind.BUSINESS and blank(provider.representative):
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


def check_provider_individual(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    if doc.provider.kind is ProviderKind.INDIVIDUAL:
        yield Finding.of(
            R.PROVIDER_INDIVIDUAL,
            "provider.kind",
            "the provider is a private person (個人): personal data about others offered by an individual is the "
            "pattern of insider theft and resale (従業員による持出し・名簿の転売); it is always refused",
        )


def _denied_finding(path: str, who: str, by_number: bool, entry: DeniedProvider) -> Finding:
    field = "corporate_number" if by_number else "legal_name"
    return Finding.of(
        R.PROVIDER_DENIED,
        f"{path}.{field}",
        f"{who} matches the deny list (取引禁止先・名簿業者) entry {entry.legal_name!r}"
        f"{' by corporate number (法人番号)' if by_number else ' by name'}, listed on {entry.listed_on}: "
        f"{entry.reason}; do not receive data from or through it",
    )


def check_provider_denied(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    if not ctx.denied:
        return
    parties = [("provider", "the provider", doc.provider.legal_name, doc.provider.corporate_number)]
    for i, holder in enumerate(doc.acquisition.upstream):
        parties.append(
            (f"acquisition.upstream[{i}]", f"upstream holder {i}", holder.legal_name, holder.corporate_number)
        )
    for path, who, name, number in parties:
        entry = find_denied(name, number, ctx.denied)
        if entry is not None:
            yield _denied_finding(path, who, bool(number and entry.corporate_number), entry)


def check_acquisition_documented(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    acquisition = doc.acquisition
    if not acquisition.evidence:
        yield Finding.of(
            R.ACQUISITION_UNDOCUMENTED,
            "acquisition.evidence",
            "no evidence of how the provider acquired the data (取得の経緯); name at least one evidence id",
        )
    if acquisition.method is AcquisitionMethod.OTHER and blank(acquisition.description):
        yield Finding.of(
            R.ACQUISITION_UNDOCUMENTED, "acquisition.description", "method 'other' needs a description of how"
        )


def check_acquisition_chain(doc: ProvenanceDocument, ctx: CheckContext) -> Iterator[Finding]:
    acquisition = doc.acquisition
    from_business = acquisition.source is AcquisitionSource.ANOTHER_BUSINESS
    if from_business and not acquisition.upstream:
        yield Finding.of(
            R.ACQUISITION_CHAIN,
            "acquisition.upstream",
            "source is another_business: name each earlier holder under upstream, down to the one that collected it",
        )
    if from_business and acquisition.received_by is None:
        yield Finding.of(
            R.ACQUISITION_CHAIN,
            "acquisition.received_by",
            "source is another_business: say on which ground the provider received the data from upstream[0] "
            "(提供元の取得の根拠; received_by: consent, opt_out, ...)",
        )
    if acquisition.method is AcquisitionMethod.PURCHASE and not from_business:
        yield Finding.of(
            R.ACQUISITION_CHAIN,
            "acquisition.method",
            f"method purchase means the provider bought the data (名簿の購入): source must be another_business "
            f"with its upstream chain; found {acquisition.source.value}",
        )
    yield from _check_upstream(doc)


def _check_upstream(doc: ProvenanceDocument) -> Iterator[Finding]:
    upstream = doc.acquisition.upstream
    for i, holder in enumerate(upstream):
        path = f"acquisition.upstream[{i}]"
        last = i == len(upstream) - 1
        if not holder.evidence:
            yield Finding.of(R.ACQUISITION_CHAIN, f"{path}.evidence", "an upstream holder needs evidence")
        if holder.corporate_number is not None and not is_valid_corporate_number(holder.corporate_number):
            yield Finding.of(
                R.ACQUISITION_CHAIN,
                f"{path}.corporate_number",
                "corporate number (法人番号) must be 13 digits with a valid check digit",
            )
        if holder.legal_ground is HolderGround.OPT_OUT and doc.legal_ground is LegalGround.OPT_OUT:
            yield Finding.of(
                R.ACQUISITION_CHAIN,
                f"{path}.legal_ground",
                "data received by opt-out cannot be provided on by opt-out again (オプトアウトによる再提供の禁止)",
            )
        if holder.legal_ground is not HolderGround.COLLECTED:
            if last:
                yield Finding.of(
                    R.ACQUISITION_CHAIN,
                    f"{path}.legal_ground",
                    f"the last upstream holder must be the one that collected the data from the people "
                    f"(本人から取得した者, legal_ground: collected); found {holder.legal_ground.value}: "
                    "name the holders before it too",
                )
            continue
        if not last:
            yield Finding.of(
                R.ACQUISITION_CHAIN,
                f"{path}.legal_ground",
                "only the last upstream holder can have collected the data (本人から取得した者); the chain runs from "
                "upstream[0], who gave it to the provider, to the collector",
            )
        if holder.collection_method is None:
            yield Finding.of(
                R.ACQUISITION_CHAIN,
                f"{path}.collection_method",
                "the collector needs its collection_method (取得方法: web_form, paper_form, event, referral, "
                "public_registry)",
            )
        if not evidence_kinds(doc, holder.evidence) & _COLLECTOR_EVIDENCE:
            yield Finding.of(
                R.ACQUISITION_CHAIN,
                f"{path}.evidence",
                "the collector needs evidence of kind consent_record or privacy_notice "
                "(取得時の同意又は通知・公表の記録)",
            )

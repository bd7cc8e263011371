"""The step-by-step form that writes a provenance document: its fields as data, and the document it makes.

Acquisition staff should not have to learn YAML to describe a batch. Each field of the form
is one declarative `FormField` naming the document path it fills (`provider.legal_name`), its
English and Japanese label, how it is entered and when it applies (the consent block only
for the ground `consent`). `document_from_form` builds on `draft.draft_document`, the same
skeleton `kakunin provenance draft` writes: a required field left blank keeps the draft's
`TODO`, which the gate refuses with "fill in <path>" at that very field, and an optional one
is left out. `field_for_finding` says next to which field a finding belongs.

Evidence: the server names each uploaded file (`web.uploads.evidence_file_name`), hashes it
and numbers it `E1`..`En`; each file names the blocks it supports (the form's "supports"
ticks), and a file with none ticked supports the blocks its kind usually backs
(`DEFAULT_SUPPORTS`: a contract the acquisition, a consent record the consent block, ...).

Pure: no web framework, no files, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from typing import Any, Literal

from kakunin.contracts import DatasetContract
from kakunin.provenance.draft import draft_document
from kakunin.provenance.fields import TODO
from kakunin.provenance.model import (
    AcquisitionMethod,
    AcquisitionSource,
    CollectionMethod,
    ConsentMechanism,
    EvidenceKind,
    HolderGround,
    LawfulBasis,
    LegalGround,
    NoticeMethod,
    ProviderKind,
)

__all__ = [
    "DEFAULT_SUPPORTS",
    "EVIDENCE_SLOTS",
    "STEPS",
    "SUPPORTS",
    "Condition",
    "EvidenceItem",
    "FormField",
    "Step",
    "all_fields",
    "applies",
    "document_from_form",
    "field_for_finding",
    "supports_ticked",
]

InputKind = Literal["text", "date", "select", "multi", "bool", "textarea", "lines", "file"]
ChoicesFrom = Literal["purposes", "datasets"]
Values = Mapping[str, str | list[str]]

UPSTREAM_SLOTS = 3
CONTRACTOR_SLOTS = 3
EVIDENCE_SLOTS = 6
EVIDENCE_SECTION = "evidence"  # the wrapper of the evidence step: findings about which evidence a block cites


@dataclass(frozen=True)
class Condition:
    """A field or step applies only when the field at `path` has one of `any_of`."""

    path: str
    any_of: tuple[str, ...]
    en: str
    ja: str

    def holds(self, values: Values) -> bool:
        value = values.get(self.path, "")
        return (value if isinstance(value, str) else "") in self.any_of


@dataclass(frozen=True)
class FormField:
    """One input of the form and the document path it fills."""

    path: str
    en: str
    ja: str
    kind: InputKind = "text"
    hint: str = ""
    choices: tuple[str, ...] = ()
    choices_from: ChoicesFrom | None = None
    required: bool = True  # blank: the draft's TODO stays ("fill in <path>"); optional blank: left out
    when: Condition | None = None
    in_document: bool = True  # False for the form's own inputs (an evidence file's "supports" ticks)


@dataclass(frozen=True)
class Step:
    """A section of the form, with its heading in both languages."""

    key: str
    en: str
    ja: str
    fields: tuple[FormField, ...]
    when: Condition | None = None
    note: str = ""


@dataclass(frozen=True)
class EvidenceItem:
    """An uploaded evidence file as the server knows it: its id, kind, server-chosen name, hash and uses."""

    id: str
    kind: EvidenceKind
    file: str
    sha256: str
    supports: tuple[str, ...] = field(default=())


def _values(enum: Any) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


def _ground(*grounds: str) -> Condition:
    names = ", ".join(grounds)
    return Condition("legal_ground", grounds, f"only when the legal ground is {names}", f"根拠が {names} の場合のみ")


_ANOTHER_BUSINESS = Condition(
    "acquisition.source",
    (AcquisitionSource.ANOTHER_BUSINESS.value,),
    "only when the provider got the data from another business",
    "提供者が他の事業者から取得した場合のみ",
)
_NOT_ENTRUSTED = Condition(
    "legal_ground",
    tuple(g.value for g in LegalGround if g is not LegalGround.ENTRUSTMENT),
    "not for entrustment (the client's notice covers it)",
    "委託の場合は不要(委託元の通知による)",
)
_EU = Condition("eu_origin", ("true",), "only for EU-origin data", "EU由来のデータの場合のみ")

# What a block's `evidence` list may cite, as the form offers it ("supports" ticks).
SUPPORTS: dict[str, tuple[str, str]] = {
    "acquisition": ("how the provider acquired it", "取得の経緯"),
    "upstream": ("the earlier holders", "上流の提供元"),
    "consent": ("consent", "同意"),
    "opt_out": ("opt-out filing", "オプトアウト届出"),
    "entrustment": ("entrustment", "委託"),
    "joint_use": ("joint use", "共同利用"),
    "succession": ("business succession", "事業承継"),
    "legal_obligation": ("legal obligation", "法令に基づく提供"),
    "contractors": ("contractors", "委託先"),
    "gdpr": ("GDPR Art. 14 notice", "GDPR 14条の通知"),
}
# A file with no "supports" ticked backs the blocks its kind usually backs.
DEFAULT_SUPPORTS: dict[EvidenceKind, tuple[str, ...]] = {
    EvidenceKind.CONTRACT: ("acquisition", "upstream", "entrustment", "succession"),
    EvidenceKind.CONSENT_RECORD: ("consent", "upstream", "gdpr"),
    EvidenceKind.PRIVACY_NOTICE: ("joint_use", "upstream"),
    EvidenceKind.PPC_FILING: ("opt_out",),
    EvidenceKind.DPA: ("contractors",),
    EvidenceKind.SECURITY_REVIEW: ("contractors",),
    EvidenceKind.FOREIGN_TRANSFER: ("contractors",),
    EvidenceKind.OTHER: ("legal_obligation",),
}
_BLOCK_OF_SUPPORT = {
    "consent": "consent",
    "opt_out": "opt_out",
    "entrustment": "entrustment",
    "joint_use": "joint_use",
    "succession": "succession",
    "legal_obligation": "legal_obligation",
}


def _party(prefix: str, en: str, ja: str, when: Condition, *, representative: bool = False) -> tuple[FormField, ...]:
    fields = [
        FormField(f"{prefix}.legal_name", f"{en}: legal name", f"{ja}の名称", when=when),
        FormField(f"{prefix}.address", f"{en}: address", f"{ja}の住所", when=when),
    ]
    if representative:
        fields.append(FormField(f"{prefix}.representative", f"{en}: representative", f"{ja}の代表者", when=when))
    return tuple(fields)


def _upstream_fields(i: int) -> tuple[FormField, ...]:
    p = f"acquisition.upstream[{i}]"
    n = i + 1
    return (
        FormField(f"{p}.legal_name", f"Holder {n}: legal name", f"提供元{n}の名称", when=_ANOTHER_BUSINESS),
        FormField(f"{p}.address", f"Holder {n}: address", f"提供元{n}の住所", required=False, when=_ANOTHER_BUSINESS),
        FormField(
            f"{p}.corporate_number",
            f"Holder {n}: corporate number",
            f"提供元{n}の法人番号",
            hint="13 digits; optional",
            required=False,
            when=_ANOTHER_BUSINESS,
        ),
        FormField(
            f"{p}.legal_ground",
            f"Holder {n}: how it got the data",
            f"提供元{n}の取得根拠",
            kind="select",
            choices=_values(HolderGround),
            hint="collected = from the data subjects themselves (the last holder)",
            when=_ANOTHER_BUSINESS,
        ),
        FormField(
            f"{p}.collection_method",
            f"Holder {n}: collection method",
            f"提供元{n}の収集方法",
            kind="select",
            choices=_values(CollectionMethod),
            hint="only for collected",
            required=False,
            when=_ANOTHER_BUSINESS,
        ),
    )


def _contractor_fields(p: str, label_en: str, label_ja: str) -> tuple[FormField, ...]:
    return (
        FormField(f"{p}.legal_name", f"{label_en}: legal name", f"{label_ja}の名称"),
        FormField(f"{p}.role", f"{label_en}: role", f"{label_ja}の役割", hint="e.g. processor, sub-processor"),
        FormField(
            f"{p}.country", f"{label_en}: country", f"{label_ja}の所在国", hint="ISO code; JP if blank", required=False
        ),
        FormField(f"{p}.approved_on", f"{label_en}: approved on", f"{label_ja}の承認日", kind="date"),
        FormField(
            f"{p}.security_reviewed_on", f"{label_en}: security reviewed on", f"{label_ja}の安全管理点検日", kind="date"
        ),
    )


def _contractors() -> Iterator[FormField]:
    for i in range(CONTRACTOR_SLOTS):
        yield from _contractor_fields(f"contractors[{i}]", f"Contractor {i + 1}", f"委託先{i + 1}")
        yield from _contractor_fields(
            f"contractors[{i}].subcontractors[0]", f"Its sub-contractor {i + 1}", f"再委託先{i + 1}"
        )


def _evidence_fields(i: int) -> tuple[FormField, ...]:
    p, n = f"evidence[{i}]", i + 1
    return (
        FormField(f"{p}.file", f"File {n}", f"ファイル{n}", kind="file", required=False),
        FormField(
            f"{p}.kind",
            f"File {n}: kind",
            f"ファイル{n}の種類",
            kind="select",
            choices=_values(EvidenceKind),
            required=False,
        ),
        FormField(
            f"{p}.supports",
            f"File {n} supports",
            f"ファイル{n}が裏付ける項目",
            kind="multi",
            choices=tuple(SUPPORTS),
            hint="none ticked: what its kind usually backs",
            required=False,
            in_document=False,
        ),
    )


_YES_NO = ("true", "false")

STEPS: tuple[Step, ...] = (
    Step(
        "basics",
        "Batch",
        "基本情報",
        (
            FormField("dataset", "Dataset", "データセット", kind="select", choices_from="datasets"),
            FormField(
                "document_id", "Document id", "確認記録番号", hint="PRV-YYYY-NNNNNN, the next number in your register"
            ),
            FormField("received_on", "Received on", "受領日", kind="date"),
            FormField("submitted_by", "Submitted by (staff id)", "作成者(社員番号)"),
            FormField(
                "approved_by", "Approved by (another staff id)", "承認者(別の社員番号)", hint="a second employee"
            ),
        ),
    ),
    Step(
        "provider",
        "Provider",
        "提供者",
        (
            FormField(
                "provider.kind",
                "Kind of provider",
                "提供者の種別",
                kind="select",
                choices=_values(ProviderKind),
                hint="an individual (個人) is refused: a resold list cannot be shown lawful",
            ),
            FormField("provider.legal_name", "Legal name", "名称"),
            FormField("provider.address", "Address", "住所"),
            FormField(
                "provider.representative", "Representative", "代表者", hint="required for a business", required=False
            ),
            FormField(
                "provider.corporate_number",
                "Corporate number",
                "法人番号",
                hint="13 digits; optional",
                required=False,
            ),
            FormField("provider.country", "Country", "所在国", hint="ISO code, e.g. JP"),
        ),
    ),
    Step(
        "acquisition",
        "How the provider acquired the data",
        "取得の経緯",
        (
            FormField("acquisition.source", "Source", "取得元", kind="select", choices=_values(AcquisitionSource)),
            FormField("acquisition.method", "Method", "取得方法", kind="select", choices=_values(AcquisitionMethod)),
            FormField("acquisition.description", "Description", "取得の経緯の説明", kind="textarea"),
            FormField("acquisition.period.from", "Acquired from", "取得期間(開始)", kind="date"),
            FormField("acquisition.period.to", "Acquired until", "取得期間(終了)", kind="date"),
            FormField(
                "acquisition.received_by",
                "Ground on which the provider received it",
                "提供者が上流から受けた根拠",
                kind="select",
                choices=_values(LegalGround),
                when=_ANOTHER_BUSINESS,
            ),
            *(f for i in range(UPSTREAM_SLOTS) for f in _upstream_fields(i)),
        ),
        note="Earlier holders: from the provider's source to the business that collected it (collected last).",
    ),
    Step(
        "ground",
        "Legal ground",
        "提供の根拠",
        (
            FormField("legal_ground", "Legal ground", "根拠", kind="select", choices=_values(LegalGround)),
            FormField(
                "consent.mechanism",
                "Consent: how it was given",
                "同意の取得方法",
                kind="select",
                choices=_values(ConsentMechanism),
                when=_ground("consent"),
            ),
            FormField(
                "consent.purposes",
                "Consent: purposes consented to",
                "同意された利用目的",
                kind="multi",
                choices_from="purposes",
                when=_ground("consent"),
            ),
            FormField(
                "consent.obtained_between.from",
                "Consent obtained from",
                "同意取得期間(開始)",
                kind="date",
                when=_ground("consent"),
            ),
            FormField(
                "consent.obtained_between.to",
                "Consent obtained until",
                "同意取得期間(終了)",
                kind="date",
                when=_ground("consent"),
            ),
            FormField(
                "opt_out.ppc_filing_id", "PPC filing id", "個人情報保護委員会への届出番号", when=_ground("opt_out")
            ),
            FormField("opt_out.published_on", "Published on", "公表日", kind="date", when=_ground("opt_out")),
            FormField(
                "opt_out.items",
                "Items filed",
                "届け出た項目",
                kind="lines",
                hint="one category a line, e.g. contact.email",
                when=_ground("opt_out"),
            ),
            *_party("entrustment.client", "Client", "委託元", _ground("entrustment")),
            FormField(
                "entrustment.scope",
                "Scope of the entrustment",
                "委託の範囲",
                kind="textarea",
                when=_ground("entrustment"),
            ),
            FormField(
                "entrustment.return_by",
                "Return or delete by",
                "返却・削除期限",
                kind="date",
                when=_ground("entrustment"),
            ),
            *_party("joint_use.responsible", "Responsible party", "責任者", _ground("joint_use"), representative=True),
            FormField(
                "joint_use.users", "Joint users", "共同して利用する者の範囲", kind="textarea", when=_ground("joint_use")
            ),
            FormField(
                "joint_use.items",
                "Items used jointly",
                "共同利用する項目",
                kind="lines",
                hint="one category a line",
                when=_ground("joint_use"),
            ),
            FormField(
                "joint_use.purposes",
                "Joint use purposes",
                "共同利用の目的",
                kind="multi",
                choices_from="purposes",
                when=_ground("joint_use"),
            ),
            FormField("joint_use.notified_on", "Notified on", "通知・公表日", kind="date", when=_ground("joint_use")),
            *_party("succession.predecessor", "Predecessor", "承継元", _ground("business_succession")),
            FormField(
                "succession.effective_on", "Effective on", "承継日", kind="date", when=_ground("business_succession")
            ),
            FormField(
                "succession.purposes",
                "Purposes the predecessor specified",
                "承継元の利用目的",
                kind="multi",
                choices_from="purposes",
                when=_ground("business_succession"),
            ),
            FormField("legal_obligation.law", "Law", "根拠法令", when=_ground("legal_obligation")),
        ),
    ),
    Step(
        "purposes",
        "Purposes and notice",
        "利用目的と通知",
        (
            FormField("purposes", "Purposes of use", "利用目的", kind="multi", choices_from="purposes"),
            FormField(
                "notice.method",
                "Notice: how",
                "通知・公表の方法",
                kind="select",
                choices=_values(NoticeMethod),
                when=_NOT_ENTRUSTED,
            ),
            FormField(
                "notice.url",
                "Notice: URL",
                "公表先URL",
                hint="https://..., when published",
                required=False,
                when=_NOT_ENTRUSTED,
            ),
            FormField(
                "notice.version_date", "Notice: version date", "通知・公表の版の日付", kind="date", when=_NOT_ENTRUSTED
            ),
            FormField(
                "notice.purposes",
                "Notice: purposes",
                "通知・公表した利用目的",
                kind="multi",
                choices_from="purposes",
                when=_NOT_ENTRUSTED,
            ),
        ),
    ),
    Step(
        "items",
        "Data items",
        "項目",
        (
            FormField(
                "data_items",
                "Personal columns and categories",
                "個人情報の列と区分",
                kind="lines",
                hint="one `column: category` a line; blank: the dataset contract's personal columns",
                required=False,
            ),
            FormField(
                "special_care",
                "Special-care information (要配慮個人情報) present?",
                "要配慮個人情報の有無",
                kind="select",
                choices=_YES_NO,
                hint="blank: as the dataset contract says",
                required=False,
            ),
        ),
    ),
    Step(
        "contractors",
        "Contractors",
        "委託先",
        tuple(_contractors()),
        note="Leave a contractor blank if nobody else handled the data.",
    ),
    Step(
        "retention",
        "Retention and origin",
        "保存期間",
        (
            FormField("retention.period", "Retention period", "保存期間", hint="ISO 8601, e.g. P3Y"),
            FormField(
                "retention.clock",
                "Counted from",
                "起算点",
                hint="received_on, or column:<date column>; blank: received_on",
                required=False,
            ),
            FormField("retention.basis", "Basis", "保存期間の根拠", hint="e.g. the contract's clause", required=False),
            FormField("eu_origin", "The data comes from the EU", "EU由来のデータ", kind="bool"),
            FormField(
                "gdpr.lawful_basis",
                "GDPR lawful basis",
                "GDPR上の適法性の根拠",
                kind="select",
                choices=_values(LawfulBasis),
                when=_EU,
            ),
            FormField(
                "gdpr.art14_notice.provided_on", "Art. 14 notice given on", "14条の通知日", kind="date", when=_EU
            ),
            FormField(
                "gdpr.purposes_at_transfer",
                "Purposes at transfer",
                "移転時の利用目的",
                kind="multi",
                choices_from="purposes",
                when=_EU,
            ),
        ),
    ),
    Step(
        "attestations",
        "Attestations",
        "表明",
        (
            FormField(
                "attestations.no_confidential_markings",
                "No confidential markings on the data",
                "秘密である旨の表示はない",
                kind="bool",
            ),
            FormField(
                "attestations.no_payment_card_data", "No payment card data", "カード情報は含まれない", kind="bool"
            ),
            FormField(
                "attestations.provider_identity_verified",
                "The provider's identity was verified",
                "提供者の本人確認をした",
                kind="bool",
            ),
        ),
    ),
    Step(
        "evidence",
        "Evidence",
        "証跡",
        tuple(f for i in range(EVIDENCE_SLOTS) for f in _evidence_fields(i)),
        note="The server computes each file's SHA-256 and names it E1, E2, ... in order.",
    ),
)


def all_fields() -> Iterator[FormField]:
    """Every field of the form, in page order."""
    for step in STEPS:
        yield from step.fields


_BY_PATH: dict[str, FormField] = {f.path: f for f in all_fields()}


def applies(item: FormField | Step, values: Values) -> bool:
    """Whether a field (or step) is part of the document for these values."""
    return item.when is None or item.when.holds(values)


# --- the document ---------------------------------------------------------------------------------------

_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _segments(path: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _SEGMENT.findall(path)]


def _text(values: Values, path: str) -> str:
    value = values.get(path, "")
    return value.strip() if isinstance(value, str) else ""


def _list(values: Values, path: str) -> list[str]:
    value = values.get(path, [])
    items = [value] if isinstance(value, str) else list(value)
    return [v.strip() for v in items if v.strip()]


def _lines(values: Values, path: str) -> list[str]:
    return [line.strip() for line in _text(values, path).splitlines() if line.strip()]


def _value(f: FormField, values: Values) -> Any:
    """The field's value for the document; None when it was left blank."""
    if f.kind == "bool":
        return _text(values, f.path).lower() in {"true", "on", "1", "yes"}
    if f.kind == "multi":
        return _list(values, f.path) or None
    if f.kind == "lines":
        return _lines(values, f.path) or None
    return _text(values, f.path) or None


def _put(document: dict[str, Any], path: str, value: Any) -> None:
    """Set `path` in `document`, making the blocks on the way; `_DROP` removes the key."""
    parts = _segments(path)
    node: Any = document
    for part, following in pairwise(parts):
        if isinstance(part, int):
            node = node[part]
            continue
        child = node.get(part)
        if not isinstance(child, dict | list):
            child = [] if isinstance(following, int) else {}
            node[part] = child
        node = child
    last = parts[-1]
    if value is _DROP:
        node.pop(last, None)
    else:
        node[last] = value


_DROP = object()


def _fill(document: dict[str, Any], fields: list[FormField], values: Values, *, rename: dict[str, str]) -> None:
    """Put each field's value at its path (renamed for list slots); required blanks become `TODO`."""
    for f in fields:
        path = _renamed(f.path, rename)
        value = _value(f, values)
        if value is None:
            value = f"{TODO}: {f.en}" if f.required else _DROP
        _put(document, path, value)


def _renamed(path: str, rename: dict[str, str]) -> str:
    for old, new in rename.items():
        if path.startswith(old):
            return new + path[len(old) :]
    return path


def _direct_fields(prefix: str) -> list[FormField]:
    return [f for path, f in _BY_PATH.items() if path.startswith(prefix + ".") and "[" not in path[len(prefix) :]]


def supports_ticked(values: Values, slot: int) -> tuple[str, ...]:
    """The blocks ticked as supported by the evidence file of `slot` (0-based), known ones only."""
    return tuple(s for s in _list(values, f"evidence[{slot}].supports") if s in SUPPORTS)


def _supports(item: EvidenceItem) -> tuple[str, ...]:
    return item.supports or DEFAULT_SUPPORTS.get(item.kind, ())


def document_from_form(
    values: Values, *, evidence: list[EvidenceItem], contract: DatasetContract | None
) -> dict[str, Any]:
    """The v2 document these form values describe (a mapping for `yaml_io.dump_yaml`).

    Fields whose condition does not hold are left out; blank required fields stay `TODO`
    so the gate names them; `values` are the form's raw strings (lists for multi-choice).
    """
    ground = _text(values, "legal_ground") or None
    dataset = _text(values, "dataset") or None
    document = draft_document(
        evidence=[], dataset=dataset, contract=contract, received_on=date(2000, 1, 1), ground=ground
    )
    document["received_on"] = TODO
    another_business = _ANOTHER_BUSINESS.holds(values)
    simple = [
        f for f in all_fields() if f.in_document and f.kind != "file" and "[" not in f.path and applies(f, values)
    ]
    for f in simple:
        if f.path in {"data_items", "special_care"}:
            continue
        _fill(document, [f], values, rename={})
    _data_items(document, values)
    if not another_business:
        document["acquisition"].pop("received_by", None)
    document["acquisition"]["upstream"] = _holders(values) if another_business else []
    if another_business and not document["acquisition"]["upstream"]:
        document["acquisition"]["upstream"] = f"{TODO}: the earlier holders"
    document["contractors"] = _contractor_list(values)
    if not _EU.holds(values):
        document.pop("gdpr", None)
    if ground == LegalGround.ENTRUSTMENT.value:
        document.pop("notice", None)
    document["evidence"] = [
        {"id": item.id, "kind": item.kind.value, "file": item.file, "sha256": item.sha256} for item in evidence
    ]
    _cite(document, evidence)
    return document


def _data_items(document: dict[str, Any], values: Values) -> None:
    """`column: category` lines, else the draft's (the contract's personal columns); special care likewise."""
    lines = _lines(values, "data_items")
    if lines:
        items = []
        for line in lines:
            column, _, category = line.partition(":")
            items.append({"column": column.strip(), "category": category.strip() or f"{TODO}: category"})
        document["data_items"] = items
    special = _text(values, "special_care").lower()
    if special in _YES_NO:
        document["special_care"] = special == "true"


def _holders(values: Values) -> list[dict[str, Any]]:
    """The earlier holders whose slots have any value, in slot order."""
    holders: list[dict[str, Any]] = []
    for i in range(UPSTREAM_SLOTS):
        holder = _slot(values, f"acquisition.upstream[{i}]")
        if holder is not None:
            holders.append({**holder, "evidence": []})
    return holders


def _contractor_list(values: Values) -> list[dict[str, Any]]:
    contractors: list[dict[str, Any]] = []
    for i in range(CONTRACTOR_SLOTS):
        prefix = f"contractors[{i}]"
        entry = _contractor(values, prefix)
        if entry is None:
            continue
        sub = _contractor(values, f"{prefix}.subcontractors[0]")
        entry["subcontractors"] = [sub] if sub is not None else []
        contractors.append(entry)
    return contractors


def _contractor(values: Values, prefix: str) -> dict[str, Any] | None:
    entry = _slot(values, prefix)
    if entry is None:
        return None
    entry.setdefault("country", "JP")
    return {**entry, "evidence": []}


def _slot(values: Values, prefix: str) -> dict[str, Any] | None:
    """One repeated block (a holder, a contractor) from its own fields; None when all are blank."""
    fields = _direct_fields(prefix)
    if not any(_value(f, values) is not None for f in fields):
        return None
    box: dict[str, Any] = {"slot": {}}
    _fill(box, fields, values, rename={prefix: "slot"})
    found: dict[str, Any] = box["slot"]
    return found


def _cite(document: dict[str, Any], evidence: list[EvidenceItem]) -> None:
    """Each block's `evidence` list: the ids of the files that support it (ticked, or by kind)."""

    def ids(target: str) -> list[str]:
        return [item.id for item in evidence if target in _supports(item)]

    document["acquisition"]["evidence"] = ids("acquisition")
    upstream = document["acquisition"].get("upstream")
    for holder in upstream if isinstance(upstream, list) else []:
        holder["evidence"] = ids("upstream")
    for support, block in _BLOCK_OF_SUPPORT.items():
        if isinstance(document.get(block), dict):
            document[block]["evidence"] = ids(support)
    for contractor in document["contractors"]:
        contractor["evidence"] = ids("contractors")
        for sub in contractor["subcontractors"]:
            sub["evidence"] = ids("contractors")
    gdpr = document.get("gdpr")
    if isinstance(gdpr, dict) and isinstance(gdpr.get("art14_notice"), dict):
        gdpr["art14_notice"]["evidence"] = ids("gdpr")


# --- findings next to their fields ---------------------------------------------------------------------


def _ancestors(path: str) -> Iterator[str]:
    """`a.b[2].c`, `a.b[2]`, `a.b`, `a`."""
    current = path
    while current:
        yield current
        cut = max(current.rfind("."), current.rfind("["))
        current = current[:cut] if cut > 0 else ""


def field_for_finding(path: str) -> str | None:
    """The form field a finding at `path` is shown next to: the nearest ancestor that is a field, else the
    first field inside that ancestor; which evidence a block cites belongs to the evidence step; None: the
    general section (e.g. `kind`)."""
    if path == "evidence" or (re.search(r"\.evidence(\[\d+\])?$", path) is not None):
        return EVIDENCE_SECTION
    for candidate in _ancestors(path):
        if candidate in _BY_PATH:
            return candidate
        inside = next((p for p in _BY_PATH if p.startswith((candidate + ".", candidate + "["))), None)
        if inside is not None:
            return inside
    return None

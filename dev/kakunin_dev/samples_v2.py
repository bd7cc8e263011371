"""Sample batches of provenance v2: one accepted batch per legal ground, and each new red flag (dev only).

Each mutation turns the good `jp_customer_leads` document of `samples` into a
`kakunin.provenance/v2` one. The entrusted batch goes to `jp_entrusted_mailing` (five of
the leads' columns). The 名簿業者 resale needs a deny list naming the broker: the demo's
own copy of the expectations (`write_demo_expectations`), never the shipped list.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from kakunin.codes import ReasonCode
from kakunin.durations import add_months
from kakunin_dev.sample_edits import Mutation, add_evidence, keep_columns, legal_obligation, set_field

ENTRUSTED_DATASET = "jp_entrusted_mailing"
ENTRUSTED_COLUMNS = ["customer_no", "name_kanji", "name_kana", "postal_code", "address"]
KIND_V2 = "kakunin.provenance/v2"
# The demo's deny list (never the shipped one): a list broker (名簿業者), listed by name only.
DEMO_DENIED_BROKER = "株式会社名簿センター"
DEMO_DENY_LIST = f"""# The demo's deny list (kakunin demo seed): expectations/providers-denied.yaml plus one broker.
denied:
  - legal_name: {DEMO_DENIED_BROKER}
    reason: 不正に取得された名簿の販売（デモ用の架空の名簿業者）
    listed_on: 2025-01-10
"""


def _collector() -> dict[str, Any]:
    """The holder that collected the data from the data subjects: the last entry of an upstream chain."""
    return {
        "legal_name": "株式会社元収集者",
        "address": "福岡県福岡市中央区天神1-1",
        "legal_ground": "collected",
        "collection_method": "web_form",
        "evidence": ["privacy-notice"],
    }


def _categories(doc: dict[str, Any]) -> list[str]:
    return [item["category"] for item in doc["data_items"]]


def _v2_opt_out(doc: dict[str, Any], batch: Path) -> None:
    """Bought from the business that collected it with consent; provided to us by opt-out (オプトアウト), filed."""
    doc["kind"] = KIND_V2
    doc["legal_ground"] = "opt_out"
    del doc["consent"]
    doc["acquisition"].update(source="another_business", method="purchase", description="名簿の購入（収集元から取得）")
    doc["acquisition"].update(received_by="consent", upstream=[_collector()])
    add_evidence(doc, batch, "ppc-filing", "ppc_filing", "個人情報保護委員会への届出")
    doc["opt_out"] = {
        "ppc_filing_id": "OPT-2023-004512",
        "published_on": add_months(doc["received_on"], -30),
        "items": _categories(doc),
        "evidence": ["ppc-filing"],
    }


def _v2_entrustment(doc: dict[str, Any], batch: Path) -> None:
    """A client's customer list, entrusted to us (委託) to send its DM; back to the client by return_by."""
    doc["kind"] = KIND_V2
    doc["dataset"] = ENTRUSTED_DATASET
    doc["legal_ground"] = "entrustment"
    del doc["consent"], doc["notice"]
    doc["provider"].update(
        legal_name="株式会社委託元", address="東京都新宿区西新宿1-1", representative="代表取締役 鈴木一郎"
    )
    doc["provider"]["corporate_number"] = None
    doc["purposes"] = ["entrusted_processing"]
    doc["data_items"] = [item for item in doc["data_items"] if item["column"] in ENTRUSTED_COLUMNS]
    doc["entrustment"] = {
        "client": {"legal_name": "株式会社委託元", "address": "東京都新宿区西新宿1-1"},
        "scope": "委託元の指示によるDM発送のみ",
        "return_by": add_months(doc["received_on"], 4),
        "evidence": ["contract-2026"],
    }
    doc["retention"] = {"period": "P3M", "clock": "received_on", "basis": "委託契約書第5条"}


def _v2_succession(doc: dict[str, Any], batch: Path) -> None:
    """Taken over with a business (事業承継), used only for the purposes the predecessor specified."""
    doc["kind"] = KIND_V2
    doc["legal_ground"] = "business_succession"
    del doc["consent"]
    doc["purposes"] = ["marketing_post"]
    doc["notice"]["purposes"] = ["marketing_email", "marketing_post"]
    doc["succession"] = {
        "predecessor": {"legal_name": "株式会社旧社", "address": "愛知県名古屋市中区栄1-1"},
        "effective_on": add_months(doc["received_on"], -2),
        "purposes": ["marketing_post"],
        "evidence": ["contract-2026"],
    }


def _v2_joint_use(doc: dict[str, Any], batch: Path) -> None:
    """Used jointly within a group (共同利用) whose items, purposes and responsible party were notified first."""
    doc["kind"] = KIND_V2
    doc["legal_ground"] = "joint_use"
    del doc["consent"]
    doc["joint_use"] = {
        "responsible": {
            "legal_name": "株式会社グループ本社",
            "address": "東京都港区芝公園1-1",
            "representative": "代表取締役 佐藤花子",
        },
        "users": "当社グループ各社（有価証券報告書記載の連結子会社）",
        "items": _categories(doc),
        "purposes": ["marketing_email"],
        "notified_on": doc["notice"]["version_date"],
        "evidence": ["privacy-notice"],
    }


def _v2_legal_obligation(doc: dict[str, Any], batch: Path) -> None:
    doc["kind"] = KIND_V2
    legal_obligation(doc, batch)


def bought_from_broker(doc: dict[str, Any], batch: Path) -> None:
    """The Benesse pattern: a private person resells a list bought from a 名簿業者 on the deny list."""
    doc["kind"] = KIND_V2
    doc["provider"] = {
        "kind": "individual",
        "legal_name": "田中一郎",
        "address": "東京都江東区豊洲1-1",
        "country": "JP",
    }
    doc["acquisition"].update(source="another_business", method="purchase", description="名簿業者から購入した顧客名簿")
    broker = {"legal_name": "㈱名簿センター", "address": "東京都豊島区池袋1-1", "legal_ground": "consent"}
    doc["acquisition"].update(received_by="consent", upstream=[{**broker, "evidence": ["contract-2026"]}, _collector()])


def _individual(doc: dict[str, Any], batch: Path) -> None:
    doc["provider"] = {
        "kind": "individual",
        "legal_name": "佐藤次郎",
        "address": "神奈川県横浜市中区1-1",
        "country": "JP",
    }


def _entrustment_past(doc: dict[str, Any], batch: Path) -> None:
    """Kept three months, but the client wants its data back after one: ground.entrustment."""
    _v2_entrustment(doc, batch)
    doc["entrustment"]["return_by"] = add_months(doc["received_on"], 1)


def _joint_use_late(doc: dict[str, Any], batch: Path) -> None:
    _v2_joint_use(doc, batch)
    doc["joint_use"]["notified_on"] = doc["received_on"] + timedelta(days=2)


def _succession_late(doc: dict[str, Any], batch: Path) -> None:
    _v2_succession(doc, batch)
    doc["succession"]["effective_on"] = doc["received_on"] + timedelta(days=2)


def _law_unnamed(doc: dict[str, Any], batch: Path) -> None:
    _v2_legal_obligation(doc, batch)
    del doc["legal_obligation"]["law"]


def _abroad(doc: dict[str, Any], batch: Path) -> None:
    doc["contractors"][0]["country"] = "US"


def _gdpr_purposes(doc: dict[str, Any], batch: Path) -> None:
    """EU-origin data used for a purpose not specified when it left the EU."""
    doc["eu_origin"] = True
    art14 = {"provided_on": doc["received_on"] - timedelta(days=10), "evidence": ["consent-sample"]}
    doc["gdpr"] = {"lawful_basis": "consent", "art14_notice": art14, "purposes_at_transfer": ["product_research"]}


def _v2_consent(doc: dict[str, Any], batch: Path) -> None:
    """The good document as v2: collected by the provider itself with consent (no upstream, no received_by)."""
    doc["kind"] = KIND_V2


V2_GROUNDS: dict[str, Mutation] = {
    "consent": _v2_consent,
    "opt_out": _v2_opt_out,
    "entrustment": _v2_entrustment,
    "business_succession": _v2_succession,
    "joint_use": _v2_joint_use,
    "legal_obligation": _v2_legal_obligation,
}


def v2_mutations(received_on: date) -> dict[ReasonCode, Mutation]:
    """For each code provenance v2 added, the change that triggers exactly it (warnings: alone)."""
    r = ReasonCode
    return {
        r.PROVIDER_INDIVIDUAL: _individual,
        r.PROVIDER_DENIED: set_field("provider.legal_name", "名簿センター株式会社"),
        r.GROUND_ENTRUSTMENT: _entrustment_past,
        r.GROUND_JOINT_USE: _joint_use_late,
        r.GROUND_SUCCESSION: _succession_late,
        r.GROUND_LEGAL_OBLIGATION: _law_unnamed,
        r.SPECIAL_CARE_MISMATCH: set_field("special_care", True),
        r.CONTRACTOR_FOREIGN: _abroad,
        r.GDPR_PURPOSE_AT_TRANSFER: _gdpr_purposes,
        r.NOTICE_LATE: set_field("notice.version_date", received_on + timedelta(days=2)),
    }


def write_demo_expectations(source: Path, target: Path) -> Path:
    """A copy of the expectations at `source` whose deny list names the demo's 名簿業者, so its sample fires.

    The shipped deny list stays empty: example companies never go into it.
    """
    if target.resolve() != source.resolve():  # KAKUNIN_EXPECTATIONS may already point at the demo's copy
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)
    (target / "providers-denied.yaml").write_text(DEMO_DENY_LIST, encoding="utf-8")
    return target


def add_v2_samples(add: Callable[..., None], received_on: date) -> None:
    """The provenance v2 samples: one accepted batch per ground, the 名簿業者 resale refused, each new code."""
    for ground, mutation in V2_GROUNDS.items():
        expected = ReasonCode.GROUND_REVIEW if ground == "legal_obligation" else None
        entrusted = keep_columns(ENTRUSTED_COLUMNS) if ground == "entrustment" else None
        add(f"v2_{ground}", expected, mutation=mutation, data_mutation=entrusted)
    add(
        "v2_individual_resells_broker_list",
        ReasonCode.PROVIDER_INDIVIDUAL,
        also=(ReasonCode.PROVIDER_DENIED,),
        mutation=bought_from_broker,
    )
    for code, mutation in v2_mutations(received_on).items():
        entrusted = keep_columns(ENTRUSTED_COLUMNS) if code is ReasonCode.GROUND_ENTRUSTMENT else None
        warning = code is ReasonCode.SPECIAL_CARE_MISMATCH  # the flag set with no special-care column
        name = f"v2_{code.value.replace('.', '_')}"
        add(name, code, mutation=mutation, data_mutation=entrusted, as_warning=warning)

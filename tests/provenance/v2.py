"""Good v2 documents, one per legal ground, and a registry that can judge them all.

Each document is written from the spec's "Version 2" part: complete, dated around
RECEIVED_ON, with real evidence files and hashes. A test changes one thing and names the
code it expects; the good documents themselves must pass, or those tests mean nothing.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kakunin.contracts import Registry
from kakunin.hashing import sha256_bytes
from kakunin.yaml_io import dump_yaml
from tests.conftest import REPO

GROUNDS = ("consent", "opt_out", "entrustment", "business_succession", "joint_use", "legal_obligation")
PERSONAL = {
    "customer_no": "identity.customer_number",
    "name_kanji": "identity.name",
    "name_kana": "identity.name_kana",
    "email": "contact.email",
    "phone": "contact.phone",
    "postal_code": "contact.postal_code",
    "address": "contact.address",
    "birth_date": "demographic.birth_date",
}
ENTRUSTED = ("customer_no", "name_kanji", "name_kana", "postal_code", "address")
EVIDENCE = {
    "contract-2026": "contract",
    "consent-sample": "consent_record",
    "collector-notice": "privacy_notice",
    "ppc-filing": "ppc_filing",
    "entrustment-contract": "contract",
    "joint-use-notice": "privacy_notice",
    "merger-agreement": "contract",
    "request-letter": "other",
    "dpa-nyuryoku": "dpa",
    "transfer-agreement": "foreign_transfer",
}
DENIED_NAME = "株式会社名簿センター"
DENIED_NUMBER = "6010001000001"

# The contract the spec ships for entrusted data; jp_customer_leads does not allow entrusted_processing.
ENTRUSTED_CONTRACT = """dataset: jp_entrusted_mailing
title: Entrusted mailing lists
encodings: [utf-8, cp932]
columns:
  - {name: customer_no, type: string, nullable: false, personal: true, category: identity.customer_number}
  - {name: name_kanji, type: string, personal: true, category: identity.name}
  - {name: name_kana, type: string, personal: true, category: identity.name_kana}
  - {name: postal_code, type: string, personal: true, category: contact.postal_code}
  - {name: address, type: string, personal: true, category: contact.address}
subject_key: [customer_no]
allowed_purposes: [entrusted_processing]
max_retention: P1Y
max_failed_row_ratio: 0.01
"""
# A dataset with a special-care column, for special_care.mismatch.
HEALTH_CONTRACT = """dataset: jp_health_survey
title: Health survey answers
columns:
  - {name: customer_no, type: string, nullable: false, personal: true, category: identity.customer_number}
  - {name: name_kanji, type: string, personal: true, category: identity.name}
  - {name: condition, type: string, personal: true, category: special_care.health}
subject_key: [customer_no]
allowed_purposes: [product_research]
max_retention: P1Y
max_failed_row_ratio: 0.01
"""
DENY_LIST = f"""denied:
  - legal_name: {DENIED_NAME}
    corporate_number: "{DENIED_NUMBER}"
    reason: 不正に取得された名簿の販売
    listed_on: 2025-01-10
  - legal_name: 有限会社闇名簿
    reason: 名簿業者（法人番号不明）
    listed_on: 2025-06-01
"""


def make_registry(root: Path) -> Registry:
    """The repository's expectations plus the two test contracts and a deny list with two entries."""
    shutil.copytree(REPO / "expectations", root)
    for name, text in (("jp_entrusted_mailing", ENTRUSTED_CONTRACT), ("jp_health_survey", HEALTH_CONTRACT)):
        (root / name).mkdir(exist_ok=True)
        (root / name / "contract.yaml").write_text(text, encoding="utf-8")
    (root / "providers-denied.yaml").write_text(DENY_LIST, encoding="utf-8")
    return Registry(root)


def collector() -> dict[str, Any]:
    return {
        "legal_name": "株式会社元収集者",
        "address": "福岡県福岡市中央区1-1",
        "legal_ground": "collected",
        "collection_method": "web_form",
        "evidence": ["collector-notice"],
    }


def _base() -> dict[str, Any]:
    return {
        "kind": "kakunin.provenance/v2",
        "document_id": "PRV-2026-000501",
        "dataset": "jp_customer_leads",
        "received_on": "2026-11-20",
        "submitted_by": "E1024",
        "approved_by": "E2048",
        "provider": {
            "kind": "business",
            "legal_name": "株式会社サンプルデータ",
            "address": "東京都千代田区丸の内1-1-1",
            "representative": "代表取締役 山田太郎",
            "corporate_number": "2010001000005",
            "country": "JP",
        },
        "acquisition": {
            "source": "data_subjects",
            "method": "web_form",
            "description": "自社Webサイトの会員登録フォーム",
            "period": {"from": "2024-04-01", "to": "2026-10-31"},
            "evidence": ["contract-2026"],
            "upstream": [],
        },
        "legal_ground": "consent",
        "consent": {
            "mechanism": "web_checkbox",
            "purposes": ["marketing_email", "product_research"],
            "obtained_between": {"from": "2024-04-01", "to": "2026-10-31"},
            "evidence": ["consent-sample"],
        },
        "notice": {
            "method": "published",
            "url": "https://example.co.jp/privacy",
            "version_date": "2024-04-01",
            "purposes": ["marketing_email", "product_research"],
        },
        "purposes": ["marketing_email"],
        "data_items": [{"column": c, "category": k} for c, k in PERSONAL.items()],
        "special_care": False,
        "contractors": [
            {
                "legal_name": "株式会社データ入力",
                "role": "processor",
                "country": "JP",
                "approved_on": "2025-03-01",
                "security_reviewed_on": "2026-03-01",
                "evidence": ["dpa-nyuryoku"],
                "subcontractors": [],
            }
        ],
        "retention": {"period": "P3Y", "clock": "received_on", "basis": "契約書第7条"},
        "eu_origin": False,
        "evidence": [],
        "attestations": {
            "no_confidential_markings": True,
            "no_payment_card_data": True,
            "provider_identity_verified": True,
        },
    }


def _opt_out(doc: dict[str, Any]) -> None:
    """The provider bought a list the collector gathered with consent, and provides it by opt-out."""
    del doc["consent"]
    doc["acquisition"].update(source="another_business", method="purchase", description="名簿の購入")
    doc["acquisition"]["received_by"] = "consent"
    doc["acquisition"]["upstream"] = [collector()]
    doc["opt_out"] = {
        "ppc_filing_id": "OPT-2023-004512",
        "published_on": "2023-05-01",
        "items": list(PERSONAL.values()),
        "evidence": ["ppc-filing"],
    }


def _entrustment(doc: dict[str, Any]) -> None:
    del doc["consent"], doc["notice"]
    doc["dataset"] = "jp_entrusted_mailing"
    doc["purposes"] = ["entrusted_processing"]
    doc["data_items"] = [{"column": c, "category": PERSONAL[c]} for c in ENTRUSTED]
    doc["entrustment"] = {
        "client": {"legal_name": "株式会社委託元", "address": "東京都新宿区1-1"},
        "scope": "委託元の指示によるDM発送のみ",
        "return_by": "2027-03-31",
        "evidence": ["entrustment-contract"],
    }
    doc["retention"] = {"period": "P3M", "clock": "received_on", "basis": "委託契約書第5条"}


def _succession(doc: dict[str, Any]) -> None:
    del doc["consent"]
    doc["purposes"] = ["marketing_post"]
    doc["notice"]["purposes"] = ["marketing_email", "marketing_post"]
    doc["succession"] = {
        "predecessor": {"legal_name": "株式会社旧社", "address": "名古屋市中区1-1"},
        "effective_on": "2026-04-01",
        "purposes": ["marketing_post"],
        "evidence": ["merger-agreement"],
    }


def _joint_use(doc: dict[str, Any]) -> None:
    del doc["consent"]
    doc["joint_use"] = {
        "responsible": {
            "legal_name": "株式会社グループ本社",
            "address": "東京都港区1-1",
            "representative": "代表取締役 佐藤花子",
        },
        "users": "当社グループ各社（有価証券報告書記載の連結子会社）",
        "items": list(PERSONAL.values()),
        "purposes": ["marketing_email"],
        "notified_on": "2024-04-01",
        "evidence": ["joint-use-notice"],
    }


def _legal_obligation(doc: dict[str, Any]) -> None:
    del doc["consent"]
    doc["legal_obligation"] = {"law": "犯罪収益移転防止法第4条", "evidence": ["request-letter"]}


_GROUND_EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "opt_out": _opt_out,
    "entrustment": _entrustment,
    "business_succession": _succession,
    "joint_use": _joint_use,
    "legal_obligation": _legal_obligation,
}


def good_v2(ground: str) -> dict[str, Any]:
    """A complete, acceptable v2 document on `ground` (a fresh copy each time)."""
    doc = copy.deepcopy(_base())
    doc["legal_ground"] = ground
    if ground in _GROUND_EDITS:
        _GROUND_EDITS[ground](doc)
    return doc


Mutation = Callable[[dict[str, Any]], object]


def write_v2(folder: Path, ground: str = "consent", mutation: Mutation | None = None) -> Path:
    """A batch folder holding the good `ground` document (changed by `mutation`) and every evidence file."""
    folder.mkdir(parents=True)
    doc = good_v2(ground)
    entries = []
    for evidence_id, kind in EVIDENCE.items():
        content = f"%PDF-1.4 {evidence_id}".encode()
        (folder / "evidence").mkdir(exist_ok=True)
        (folder / "evidence" / f"{evidence_id}.pdf").write_bytes(content)
        entries.append({"id": evidence_id, "kind": kind, "file": f"evidence/{evidence_id}.pdf"})
        entries[-1]["sha256"] = sha256_bytes(content)
    doc["evidence"] = entries
    if mutation is not None:
        mutation(doc)
    (folder / "provenance.yaml").write_text(dump_yaml(doc), encoding="utf-8")
    return folder

"""The purpose register and the dataset contract, and clear errors when either is broken."""

from __future__ import annotations

from pathlib import Path

import pytest

from kakunin.contracts import ColumnType, Registry
from kakunin.errors import ConfigError
from tests.conftest import REPO


def test_the_register_has_the_required_purposes(registry: Registry) -> None:
    required = {
        "marketing_email",
        "marketing_post",
        "product_research",
        "service_delivery",
        "credit_screening",
        "fraud_prevention",
    }
    assert required <= registry.purposes.ids
    for purpose in registry.purposes.purposes:
        assert purpose.title_en
        assert purpose.title_ja
        assert purpose.description


def test_jp_customer_leads_contract(registry: Registry) -> None:
    contract = registry.contract("jp_customer_leads")
    assert contract is not None
    assert [(c.name, c.type) for c in contract.columns] == [
        ("customer_no", ColumnType.STRING),
        ("name_kanji", ColumnType.STRING),
        ("name_kana", ColumnType.STRING),
        ("email", ColumnType.STRING),
        ("phone", ColumnType.STRING),
        ("postal_code", ColumnType.STRING),
        ("address", ColumnType.STRING),
        ("birth_date", ColumnType.DATE),
        ("consented_at", ColumnType.TIMESTAMP),
        ("last_purchase_on", ColumnType.DATE),
    ]
    assert [(c.name, c.category) for c in contract.personal_columns] == [
        ("customer_no", "identity.customer_number"),
        ("name_kanji", "identity.name"),
        ("name_kana", "identity.name_kana"),
        ("email", "contact.email"),
        ("phone", "contact.phone"),
        ("postal_code", "contact.postal_code"),
        ("address", "contact.address"),
        ("birth_date", "demographic.birth_date"),
    ]
    assert contract.columns_by_name["last_purchase_on"].nullable
    assert contract.subject_key == ["customer_no"]
    assert contract.allowed_purposes == ["marketing_email", "marketing_post", "product_research"]
    assert (contract.max_retention, contract.encodings, contract.max_failed_row_ratio) == (
        "P5Y",
        ["utf-8", "cp932"],
        0.01,
    )


def test_an_unknown_dataset_has_no_contract(registry: Registry) -> None:
    assert registry.contract("nope") is None
    assert registry.contract("../expectations") is None


def _registry_with(tmp_path: Path, old: str, new: str) -> Registry:
    root = tmp_path / "expectations"
    (root / "jp_customer_leads").mkdir(parents=True)
    (root / "purposes.yaml").write_bytes((REPO / "expectations/purposes.yaml").read_bytes())
    text = (REPO / "expectations/jp_customer_leads/contract.yaml").read_text(encoding="utf-8")
    assert old in text
    (root / "jp_customer_leads/contract.yaml").write_text(text.replace(old, new), encoding="utf-8")
    return Registry(root)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param("type: date,", "type: datum,", "columns[7].type", id="bad-type"),
        pytest.param("max_retention: P5Y", "max_retention: five years", "max_retention", id="bad-duration"),
        pytest.param("subject_key: [customer_no]", "subject_key: [member_no]", "member_no", id="bad-subject-key"),
        pytest.param("[utf-8, cp932]", "[utf-8, latin-1]", "encodings", id="bad-encoding"),
        pytest.param("product_research]", "product_research, astrology]", "astrology", id="unregistered-purpose"),
        pytest.param("category: contact.email}", "}", "needs a category", id="personal-without-category"),
        pytest.param(
            "max_failed_row_ratio: 0.01", "max_failed_row_ratio: 0.01\nowner: me", "owner", id="unknown-field"
        ),
    ],
)
def test_a_broken_contract_is_a_clear_error(tmp_path: Path, old: str, new: str, expected: str) -> None:
    registry = _registry_with(tmp_path, old, new)
    with pytest.raises(ConfigError) as caught:
        registry.contract("jp_customer_leads")
    message = str(caught.value)
    assert "jp_customer_leads/contract.yaml" in message
    assert expected in message

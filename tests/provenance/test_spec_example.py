"""The spec's own complete example, as a person would file it with real evidence files."""

from __future__ import annotations

import hashlib
from pathlib import Path

from kakunin.contracts import Registry
from kakunin.provenance.document import check_path
from tests.conftest import TODAY

EXAMPLE = Path(__file__).with_name("spec_example.yaml")
PERSONAL_ITEMS = """data_items:
  - {column: customer_no, category: identity.customer_number}
  - {column: name_kanji, category: identity.name}
  - {column: name_kana, category: identity.name_kana}
  - {column: email, category: contact.email}
  - {column: phone, category: contact.phone}
  - {column: postal_code, category: contact.postal_code}
  - {column: address, category: contact.address}
  - {column: birth_date, category: demographic.birth_date}
"""


def file_example(folder: Path, *, all_personal_items: bool) -> Path:
    """The example with its three evidence files written and their real hashes filled in."""
    text = EXAMPLE.read_text(encoding="utf-8")
    for name in ("contract-2026.pdf", "consent-screens.pdf", "dpa.pdf"):
        content = f"%PDF-1.4 {name}".encode()
        (folder / "evidence").mkdir(parents=True, exist_ok=True)
        (folder / "evidence" / name).write_bytes(content)
        text = text.replace(
            f'file: evidence/{name}, sha256: "<64 hex>"',
            f'file: evidence/{name}, sha256: "{hashlib.sha256(content).hexdigest()}"',
        )
    if all_personal_items:
        start = text.index("data_items:")
        end = text.index("special_care:")
        text = text[:start] + PERSONAL_ITEMS + text[end:]
    (folder / "provenance.yaml").write_text(text, encoding="utf-8")
    return folder


def test_the_example_declares_only_two_of_the_contracts_personal_columns(tmp_path: Path, registry: Registry) -> None:
    verdict = check_path(file_example(tmp_path, all_personal_items=False), registry=registry, today=TODAY)
    assert verdict.document_id == "PRV-2026-000123"
    assert {f.code.value for f in verdict.findings} == {"data_items.undeclared"}
    assert len(verdict.findings) == 6  # customer_no, name_kana, phone, postal_code, address, birth_date


def test_the_example_with_every_personal_column_is_accepted(tmp_path: Path, registry: Registry) -> None:
    verdict = check_path(file_example(tmp_path, all_personal_items=True), registry=registry, today=TODAY)
    assert verdict.findings == []
    assert verdict.decision == "accepted"


def test_the_example_as_a_v2_document_is_accepted_too(tmp_path: Path, registry: Registry) -> None:
    """Its unused opt_out and gdpr blocks, and contractors without country, meet no v2 rule."""
    folder = file_example(tmp_path, all_personal_items=True)
    document = folder / "provenance.yaml"
    document.write_text(
        document.read_text(encoding="utf-8").replace("kind: kakunin.provenance/v1", "kind: kakunin.provenance/v2"),
        encoding="utf-8",
    )
    verdict = check_path(folder, registry=registry, today=TODAY)
    assert verdict.findings == []


def test_the_example_from_a_private_person_is_refused(tmp_path: Path, registry: Registry) -> None:
    folder = file_example(tmp_path, all_personal_items=True)
    document = folder / "provenance.yaml"
    text = document.read_text(encoding="utf-8").replace("kind: business ", "kind: individual ")
    document.write_text(text, encoding="utf-8")
    verdict = check_path(folder, registry=registry, today=TODAY)
    assert [(f.code.value, f.path) for f in verdict.findings] == [("provider.individual", "provider.kind")]

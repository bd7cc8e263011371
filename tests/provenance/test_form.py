"""The step-by-step form's fields and the document it writes, judged by the real gate."""

from __future__ import annotations

import types
import typing
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from kakunin.contracts import Registry
from kakunin.durations import add_months
from kakunin.hashing import sha256_bytes
from kakunin.provenance.document import check_path
from kakunin.provenance.findings import Verdict
from kakunin.provenance.form import (
    EVIDENCE_SECTION,
    STEPS,
    EvidenceItem,
    all_fields,
    document_from_form,
    field_for_finding,
    supports_ticked,
)
from kakunin.provenance.model import EvidenceKind, ProvenanceDocument
from kakunin.yaml_io import dump_yaml
from kakunin_dev.samples import write_rows
from tests.conftest import REPO, TODAY

# (kind, file name as the client sent it, supports ticked) of the evidence a complete form uploads
EVIDENCE_UPLOADS: list[tuple[str, str, list[str]]] = [
    ("contract", "データ提供契約書.pdf", []),
    ("consent_record", "consent-screens.pdf", []),
    ("dpa", "dpa.pdf", []),
]


def complete_values(*, received_on: date, document_id: str) -> dict[str, Any]:
    """A form as a careful member of staff fills it in: the sample provider, consent, one contractor."""
    d = received_on.isoformat
    start = add_months(received_on, -31).isoformat()
    end = (received_on - timedelta(days=20)).isoformat()
    values: dict[str, Any] = {
        "dataset": "jp_customer_leads",
        "document_id": document_id,
        "received_on": d(),
        "submitted_by": "E1024",
        "approved_by": "E2048",
        "provider.kind": "business",
        "provider.legal_name": "株式会社サンプルデータ",
        "provider.address": "東京都千代田区丸の内1-1-1",
        "provider.representative": "代表取締役 山田太郎",
        "provider.corporate_number": "2010001000005",
        "provider.country": "JP",
        "acquisition.source": "data_subjects",
        "acquisition.method": "web_form",
        "acquisition.description": "自社Webサイトの会員登録フォーム",
        "acquisition.period.from": start,
        "acquisition.period.to": end,
        "legal_ground": "consent",
        "consent.mechanism": "web_checkbox",
        "consent.purposes": ["marketing_email", "product_research"],
        "consent.obtained_between.from": start,
        "consent.obtained_between.to": end,
        "purposes": ["marketing_email"],
        "notice.method": "published",
        "notice.url": "https://example.co.jp/privacy",
        "notice.version_date": start,
        "notice.purposes": ["marketing_email", "product_research"],
        "contractors[0].legal_name": "株式会社データ入力",
        "contractors[0].role": "processor",
        "contractors[0].approved_on": add_months(received_on, -20).isoformat(),
        "contractors[0].security_reviewed_on": add_months(received_on, -8).isoformat(),
        "retention.period": "P3Y",
        "retention.basis": "契約書第7条",
        "attestations.no_confidential_markings": "true",
        "attestations.no_payment_card_data": "true",
        "attestations.provider_identity_verified": "true",
    }
    for i, (kind, _, supports) in enumerate(EVIDENCE_UPLOADS):
        values[f"evidence[{i}].kind"] = kind
        values[f"evidence[{i}].supports"] = supports
    return values


def evidence_content(name: str) -> bytes:
    return f"%PDF-1.4\n% Kakunin form test evidence: {name}\n%%EOF\n".encode()


def evidence_items(values: dict[str, Any]) -> list[EvidenceItem]:
    """The uploads as the server records them (ids E1.., its own file names, hashes it computed)."""
    from kakunin.web.uploads import evidence_file_name

    return [
        EvidenceItem(
            id=f"E{n}",
            kind=EvidenceKind(kind),
            file=evidence_file_name(n, name),
            sha256=sha256_bytes(evidence_content(name)),
            supports=supports_ticked(values, n - 1),
        )
        for n, (kind, name, _) in enumerate(EVIDENCE_UPLOADS, start=1)
    ]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry(REPO / "expectations")


def judge(folder: Path, values: dict[str, Any], registry: Registry) -> tuple[dict[str, Any], Verdict]:
    """Write the form's document, the sample data and the evidence files into a batch folder; the gate's verdict."""
    items = evidence_items(values)
    document = document_from_form(values, evidence=items, contract=registry.contract(values["dataset"]))
    folder.mkdir()
    write_rows(folder / "data.csv", rows=5, seed=3)
    for item, (_, name, _) in zip(items, EVIDENCE_UPLOADS, strict=True):
        (folder / item.file).parent.mkdir(exist_ok=True)
        (folder / item.file).write_bytes(evidence_content(name))
    (folder / "provenance.yaml").write_text(dump_yaml(document), encoding="utf-8")
    return document, check_path(folder, registry=registry, today=TODAY)


def test_a_complete_form_writes_a_document_the_gate_accepts(tmp_path: Path, registry: Registry) -> None:
    values = complete_values(received_on=TODAY - timedelta(days=6), document_id="PRV-2026-000901")
    document, verdict = judge(tmp_path / "batch", values, registry)
    assert verdict.decision == "accepted", [f.model_dump() for f in verdict.findings]
    assert document["kind"] == "kakunin.provenance/v2"
    # evidence by kind: the contract backs the acquisition, the consent record the consent, the DPA the contractor
    assert document["acquisition"]["evidence"] == ["E1"]
    assert document["consent"]["evidence"] == ["E2"]
    assert document["contractors"][0]["evidence"] == ["E3"]
    assert [e["file"] for e in document["evidence"]][1] == "evidence/E2-consent-screens.pdf"
    # data items from the contract's personal columns, as a draft fills them in
    assert {"column": "email", "category": "contact.email"} in document["data_items"]
    assert document["acquisition"]["upstream"] == []
    assert "received_by" not in document["acquisition"]


def test_a_form_without_the_providers_address_is_refused_at_that_field(tmp_path: Path, registry: Registry) -> None:
    values = complete_values(received_on=TODAY - timedelta(days=6), document_id="PRV-2026-000902")
    values["provider.address"] = "  "
    _, verdict = judge(tmp_path / "batch", values, registry)
    assert verdict.decision == "rejected"
    paths = {f.path for f in verdict.findings}
    assert paths == {"provider.address"}, paths
    assert {field_for_finding(p) for p in paths} == {"provider.address"}


def test_ticked_supports_override_the_kind_and_the_upstream_chain_is_written(
    tmp_path: Path, registry: Registry
) -> None:
    values = complete_values(received_on=TODAY - timedelta(days=6), document_id="PRV-2026-000903")
    values |= {
        "acquisition.source": "another_business",
        "acquisition.method": "purchase",
        "acquisition.received_by": "consent",
        "acquisition.upstream[0].legal_name": "株式会社元収集者",
        "acquisition.upstream[0].address": "福岡県福岡市中央区天神1-1",
        "acquisition.upstream[0].legal_ground": "collected",
        "acquisition.upstream[0].collection_method": "web_form",
        "evidence[0].supports": ["acquisition"],  # the contract: not for the collector
    }
    document, verdict = judge(tmp_path / "batch", values, registry)
    assert verdict.decision == "accepted", [f.model_dump() for f in verdict.findings]
    (holder,) = document["acquisition"]["upstream"]
    assert holder["legal_name"] == "株式会社元収集者"
    assert holder["evidence"] == ["E2"]
    assert document["acquisition"]["received_by"] == "consent"


def test_blocks_of_other_grounds_are_left_out_and_blank_required_fields_are_named(registry: Registry) -> None:
    values = complete_values(received_on=TODAY, document_id="PRV-2026-000904")
    values["legal_ground"] = "opt_out"
    document = document_from_form(
        values, evidence=evidence_items(values), contract=registry.contract("jp_customer_leads")
    )
    assert "consent" not in document
    assert document["opt_out"]["ppc_filing_id"].startswith("TODO")  # the gate says "fill in opt_out.ppc_filing_id"
    assert document["opt_out"]["evidence"] == []  # no ppc_filing uploaded


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("provider.address", "provider.address"),
        ("provider.kind", "provider.kind"),
        ("acquisition.upstream[0].legal_name", "acquisition.upstream[0].legal_name"),
        ("acquisition.upstream[7].legal_name", "acquisition.upstream[0].legal_name"),
        ("acquisition.upstream", "acquisition.upstream[0].legal_name"),
        ("acquisition.period.from", "acquisition.period.from"),
        ("consent", "consent.mechanism"),
        ("consent.evidence", EVIDENCE_SECTION),
        (
            "contractors[0].subcontractors[0].security_reviewed_on",
            "contractors[0].subcontractors[0].security_reviewed_on",
        ),
        ("evidence[2].sha256", "evidence[2].file"),
        ("evidence", EVIDENCE_SECTION),
        ("opt_out.items[0]", "opt_out.items"),
        ("data_items[3].category", "data_items"),
        ("kind", None),
        ("", None),
    ],
)
def test_each_finding_path_has_its_field(path: str, field: str | None) -> None:
    assert field_for_finding(path) == field


def _model_of(annotation: Any) -> Any:
    """The model (or list element's model) behind an annotation, through Optional and Annotated."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _model_of(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        found = [_model_of(a) for a in typing.get_args(annotation) if a is not type(None)]
        return next((f for f in found if f is not None), found[0] if found else None)
    if origin is list:
        return ("list", _model_of(typing.get_args(annotation)[0]))
    return annotation


def _exists(model: type[BaseModel], path: str) -> bool:
    node: Any = model
    for part in path.replace("[", ".[").split("."):
        if part.startswith("["):
            if not (isinstance(node, tuple) and node[0] == "list"):
                return False
            node = node[1]
            continue
        if not (isinstance(node, type) and issubclass(node, BaseModel)):
            return False
        by_alias = {f.alias or name: f for name, f in node.model_fields.items()}
        if part not in by_alias:
            return False
        node = _model_of(by_alias[part].annotation)
    return True


def test_every_field_fills_a_path_of_the_v2_model() -> None:
    paths = [f.path for f in all_fields() if f.in_document]
    missing = [p for p in paths if not _exists(ProvenanceDocument, p)]
    assert missing == []
    assert not _exists(ProvenanceDocument, "provider.nickname")  # the walk can fail
    assert len(paths) == len(set(paths))


def test_every_label_and_heading_has_japanese() -> None:
    def japanese(text: str) -> bool:
        return any(ord(c) > 0x2E80 for c in text)

    assert [f.path for f in all_fields() if not japanese(f.ja) or not f.en] == []
    assert [s.key for s in STEPS if not japanese(s.ja)] == []

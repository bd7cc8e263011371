"""Reading documents people send: YAML or JSON, malformed, binary, huge, or not there."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from kakunin.contracts import Registry
from kakunin.errors import InputError
from kakunin.provenance.document import MAX_DOCUMENT_BYTES, check_path
from kakunin.provenance.findings import Verdict
from tests.conftest import TODAY

MakeBatch = Callable[..., Path]


def check(path: Path, registry: Registry) -> Verdict:
    return check_path(path, registry=registry, today=TODAY)


def replace_document(batch: Path, content: bytes, name: str = "provenance.yaml") -> Path:
    for old in batch.glob("provenance.*"):
        old.unlink()
    (batch / name).write_bytes(content)
    return batch


def schema_messages(verdict: Verdict) -> list[str]:
    assert verdict.decision == "rejected"
    assert {f.code.value for f in verdict.findings} == {"schema"}
    return [f.message for f in verdict.findings]


def test_a_json_document_is_accepted(make_batch: MakeBatch, registry: Registry) -> None:
    batch = make_batch(as_json=True)
    assert (batch / "provenance.json").is_file()
    assert check(batch, registry).decision == "accepted"


def test_the_document_path_itself_can_be_checked(make_batch: MakeBatch, registry: Registry) -> None:
    batch = make_batch()
    assert check(batch / "provenance.yaml", registry).decision == "accepted"


def test_unquoted_and_quoted_yaml_dates_both_work(make_batch: MakeBatch, registry: Registry) -> None:
    batch = make_batch()
    text = (batch / "provenance.yaml").read_text(encoding="utf-8")
    assert "received_on: 2026-11-20\n" in text  # unquoted, as people write it
    replace_document(batch, text.replace("received_on: 2026-11-20", "received_on: '2026-11-20'").encode())
    assert check(batch, registry).decision == "accepted"


def test_malformed_yaml_says_where(make_batch: MakeBatch, registry: Registry) -> None:
    batch = replace_document(make_batch(), b"kind: kakunin.provenance/v1\nprovider: [unclosed\n")
    (message,) = schema_messages(check(batch, registry))
    assert "not valid YAML" in message
    assert "line" in message


def test_malformed_json_says_where(make_batch: MakeBatch, registry: Registry) -> None:
    batch = replace_document(make_batch(), b'{"kind": "kakunin.provenance/v1",', "provenance.json")
    (message,) = schema_messages(check(batch, registry))
    assert "not valid JSON" in message


def test_a_binary_file_is_rejected_not_crashed_on(make_batch: MakeBatch, registry: Registry) -> None:
    batch = replace_document(make_batch(), b"%PDF-1.7\n\x00\x01\x02\xff\xfe binary")
    (message,) = schema_messages(check(batch, registry))
    assert "binary" in message


def test_a_document_in_another_encoding_is_rejected(make_batch: MakeBatch, registry: Registry) -> None:
    text = (make_batch() / "provenance.yaml").read_text(encoding="utf-8")
    batch = replace_document(make_batch(), text.encode("cp932"))
    (message,) = schema_messages(check(batch, registry))
    assert "UTF-8" in message


def test_a_50_mb_document_is_rejected_without_reading_it_all(make_batch: MakeBatch, registry: Registry) -> None:
    batch = make_batch()
    with (batch / "provenance.yaml").open("ab") as handle:
        handle.truncate(50 * 1024 * 1024)
    (message,) = schema_messages(check(batch, registry))
    assert "52,428,800 bytes" in message
    assert f"{MAX_DOCUMENT_BYTES:,}" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(b"", "empty document", id="empty"),
        pytest.param(b"- a\n- b\n", "found a list", id="top-level-list"),
        pytest.param(b"kind: kakunin.provenance/v3\n", "kind must be", id="unknown-kind"),
        pytest.param(b"document_id: PRV-2026-000001\n", "kind is missing", id="no-kind"),
        pytest.param(b"kind: a\nkind: b\n", "duplicate key", id="duplicate-key"),
        pytest.param(b"a: &x [1]\nb: *x\n", "aliases", id="yaml-alias"),
    ],
)
def test_unusable_content_is_a_schema_finding(
    make_batch: MakeBatch, registry: Registry, content: bytes, expected: str
) -> None:
    batch = replace_document(make_batch(), content)
    (message,) = schema_messages(check(batch, registry))
    assert expected in message


def test_unknown_and_mistyped_fields_are_each_reported_with_their_path(
    make_batch: MakeBatch, registry: Registry
) -> None:
    batch = make_batch()
    doc = json.loads(json.dumps(_load(batch), default=str))
    doc["provider"]["website"] = "https://example.co.jp"
    doc["special_care"] = "yes"
    doc["contractors"][0]["approved_on"] = "last spring"
    replace_document(batch, json.dumps(doc, ensure_ascii=False).encode(), "provenance.json")
    verdict = check(batch, registry)
    assert {(f.code.value, f.path) for f in verdict.findings} == {
        ("schema", "provider.website"),
        ("schema", "special_care"),
        ("schema", "contractors[0].approved_on"),
    }
    assert verdict.document_id == "PRV-2026-000001"


def test_other_findings_still_show_beside_a_schema_error(make_batch: MakeBatch, registry: Registry) -> None:
    batch = make_batch()
    doc = json.loads(json.dumps(_load(batch), default=str))
    doc["provider"]["website"] = "https://example.co.jp"
    doc["approved_by"] = doc["submitted_by"]
    replace_document(batch, json.dumps(doc, ensure_ascii=False).encode(), "provenance.json")
    assert {f.code.value for f in check(batch, registry).findings} == {"schema", "four_eyes"}


def test_yaml_1_1_booleans_do_not_eat_country_codes(make_batch: MakeBatch, registry: Registry) -> None:
    batch = make_batch()
    text = (batch / "provenance.yaml").read_text(encoding="utf-8").replace("country: JP", "country: NO")
    replace_document(batch, text.encode())
    assert check(batch, registry).decision == "accepted"


def test_a_folder_without_a_document_is_rejected(make_batch: MakeBatch, registry: Registry) -> None:
    batch = make_batch()
    (batch / "provenance.yaml").unlink()
    (message,) = schema_messages(check(batch, registry))
    assert "no provenance document" in message


def test_two_documents_in_one_folder_cannot_be_checked(make_batch: MakeBatch, registry: Registry) -> None:
    batch = make_batch()
    (batch / "provenance.json").write_text("{}", encoding="utf-8")
    with pytest.raises(InputError, match="more than one provenance document"):
        check(batch, registry)


def test_a_path_that_does_not_exist_cannot_be_checked(tmp_path: Path, registry: Registry) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        check(tmp_path / "nowhere", registry)


def _load(batch: Path) -> dict[str, object]:
    from kakunin.yaml_io import parse_mapping

    return parse_mapping((batch / "provenance.yaml").read_text(encoding="utf-8"))

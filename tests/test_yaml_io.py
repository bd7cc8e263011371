"""The strict YAML/JSON reader used for every document people write."""

from __future__ import annotations

from datetime import date

import pytest

from kakunin.yaml_io import DocumentSyntaxError, dump_yaml, json_bytes, json_text, parse_mapping


def test_only_true_and_false_are_booleans() -> None:
    data = parse_mapping("country: NO\nanswer: yes\nflag: true\noff_switch: off\n")
    assert data == {"country": "NO", "answer": "yes", "flag": True, "off_switch": "off"}


def test_unquoted_dates_are_dates() -> None:
    assert parse_mapping("received_on: 2026-11-20\n") == {"received_on": date(2026, 11, 20)}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("a: 1\na: 2\n", "duplicate key", id="duplicate"),
        pytest.param("a: &x 1\nb: *x\n", "aliases", id="alias"),
        pytest.param("a: [\n", "line 2", id="unclosed"),
        pytest.param("just text", "found a str", id="scalar"),
    ],
)
def test_refusals(text: str, message: str) -> None:
    with pytest.raises(DocumentSyntaxError, match=message):
        parse_mapping(text)


def test_json_duplicate_keys_are_refused() -> None:
    with pytest.raises(DocumentSyntaxError, match="duplicate key"):
        parse_mapping('{"a": 1, "a": 2}', json_only=True)


def test_dump_reads_back_without_aliases() -> None:
    shared = date(2026, 1, 1)
    data = {"a": {"from": shared}, "b": {"from": shared}, "名前": "髙橋"}
    text = dump_yaml(data)
    assert "&" not in text
    assert "髙橋" in text
    assert parse_mapping(text) == data


@pytest.mark.parametrize(
    ("data", "kwargs", "expected"),
    [
        pytest.param({"名前": "確認", "a": 1}, {}, '{\n  "名前": "確認",\n  "a": 1\n}', id="utf8-kept-order-kept"),
        pytest.param({"since": 3, "sequence": None}, {"indent": None}, '{"since": 3, "sequence": null}', id="one-line"),
        pytest.param({"on": date(2026, 11, 20)}, {"default": str}, '{\n  "on": "2026-11-20"\n}', id="default"),
    ],
)
def test_json_text_is_the_one_spelling(data: dict[str, object], kwargs: dict[str, object], expected: str) -> None:
    assert json_text(data, **kwargs) == expected


def test_json_bytes_is_a_document_with_a_final_newline() -> None:
    assert json_bytes([{"ok": True}]) == b'[\n  {\n    "ok": true\n  }\n]\n'
    assert parse_mapping(json_bytes({"名前": "確認"}).decode(), json_only=True) == {"名前": "確認"}


def test_a_value_json_has_no_type_for_is_refused_without_default() -> None:
    with pytest.raises(TypeError):
        json_text({"on": date(2026, 11, 20)})

"""Every reason code has a Japanese meaning for the web app's findings."""

from __future__ import annotations

from kakunin.codes import ReasonCode
from kakunin.provenance.messages_ja import JAPANESE, japanese


def test_every_reason_code_has_a_japanese_meaning() -> None:
    assert [c.value for c in ReasonCode if not JAPANESE.get(c, "").strip()] == []


def test_each_meaning_is_japanese_and_distinct() -> None:
    texts = list(JAPANESE.values())
    assert len(set(texts)) == len(texts)
    assert all(any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in t) for t in texts)


def test_a_string_that_is_no_code_has_none() -> None:
    assert japanese("expect_column_values_to_match_regex") == ""
    assert japanese("provider.individual").startswith("提供者が個人")

"""Identifier normalisation over whole columns: what a person types finds what a provider sent."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from kakunin.subjects.identifiers import hiragana_as_katakana, normalise_names, normalise_phones

HIRAGANA = "".join(chr(c) for c in range(0x3041, 0x3097))
KATAKANA = "".join(chr(c + 0x60) for c in range(0x3041, 0x3097))
AS_KATAKANA = str.maketrans(HIRAGANA, KATAKANA)


@given(
    st.lists(
        st.one_of(st.none(), st.text(alphabet=st.characters(min_codepoint=0x3000, max_codepoint=0x30FF)) | st.text()),
        max_size=30,
    ),
    st.integers(0, 5),
)
def test_every_hiragana_becomes_its_katakana_and_nothing_else_changes(values: list[str | None], start: int) -> None:
    column = pa.array(values, pa.string()).slice(min(start, len(values)))  # a slice: offsets not from zero
    expected = [None if v is None else v.translate(AS_KATAKANA) for v in column.to_pylist()]
    assert hiragana_as_katakana(column).to_pylist() == expected


def test_a_name_in_hiragana_half_width_or_spaced_is_one_name() -> None:
    names = pa.array(["やまだ　たろう", "ヤマダ タロウ", "ﾔﾏﾀﾞﾀﾛｳ", "ゔぁいおりん", None, " "])
    assert normalise_names(names).to_pylist() == [
        "ヤマダタロウ",
        "ヤマダタロウ",
        "ヤマダタロウ",
        "ヴァイオリン",
        None,
        None,
    ]


def test_phone_numbers_in_every_japanese_form_are_one_number() -> None:
    phones = pa.array(["090-1234-5678", "+81 90-1234-5678", "+81(0)90 1234 5678", "0081-90-1234-5678", "12-3"])
    assert normalise_phones(phones).to_pylist() == ["09012345678"] * 4 + [None]
    assert normalise_phones(pa.array(["090 1234 5678", "03-1234-5678"])).to_pylist() == ["09012345678", "0312345678"]

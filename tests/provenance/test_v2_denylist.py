"""The deny list: name normalisation as the spec defines it, matching, and loading the file."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from kakunin.contracts import DeniedProvider, Registry
from kakunin.errors import ConfigError
from kakunin.provenance.denylist import find_denied, normalise_company_name
from tests.conftest import REPO


@pytest.mark.parametrize(
    ("written", "same_as"),
    [
        pytest.param("株式会社名簿センター", "名簿センター", id="kabushiki-kaisha-before"),
        pytest.param("名簿センター株式会社", "名簿センター", id="kabushiki-kaisha-after"),
        pytest.param("㈱名簿センター", "名簿センター", id="one-character-kabu"),
        pytest.param("名簿センター㈱", "名簿センター", id="one-character-kabu-after"),
        pytest.param("(株)名簿センター", "名簿センター", id="half-width-parenthesised"),
        pytest.param("（株）名簿センター", "名簿センター", id="full-width-parenthesised"),
        pytest.param("有限会社名簿センター", "名簿センター", id="yugen-kaisha"),
        pytest.param("名簿センター（有）", "名簿センター", id="full-width-yu-after"),
        pytest.param("㈲名簿センター", "名簿センター", id="one-character-yu"),
        pytest.param("株式会社　名簿 センター", "名簿センター", id="full-and-half-width-spaces"),
        pytest.param("株式会社ﾒｲﾎﾞｾﾝﾀｰ", "メイボセンター", id="half-width-katakana"),
        pytest.param("ＡＢＣデータ株式会社", "ABCデータ", id="full-width-latin"),
    ],
)
def test_spellings_of_one_business_normalise_alike(written: str, same_as: str) -> None:
    assert normalise_company_name(written) == same_as


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param("名簿センター", "名簿センタ", id="one-character-short"),
        pytest.param("株式会社名簿センター", "株式会社名簿センター東京", id="a-longer-name"),
        pytest.param("合同会社名簿センター", "名簿センター", id="godo-kaisha-is-not-in-the-list"),
    ],
)
def test_different_names_stay_different(a: str, b: str) -> None:
    assert normalise_company_name(a) != normalise_company_name(b)


ENTRY = DeniedProvider(
    legal_name="株式会社名簿センター", corporate_number="6010001000001", reason="r", listed_on=date(2025, 1, 10)
)
NAMELESS = DeniedProvider(legal_name="有限会社闇名簿", reason="r", listed_on=date(2025, 1, 10))


@pytest.mark.parametrize(
    ("name", "number", "matched"),
    [
        pytest.param("名簿センター㈱", None, ENTRY, id="name-no-number"),
        pytest.param("別の会社", "6010001000001", ENTRY, id="number-whatever-the-name"),
        pytest.param("名簿センター㈱", "5010001000002", None, id="same-name-other-number"),
        pytest.param("㈲闇名簿", "5010001000002", NAMELESS, id="entry-without-number-by-name"),
        pytest.param("株式会社", None, None, id="only-a-company-form-matches-nothing"),
        pytest.param(None, None, None, id="no-name"),
    ],
)
def test_find_denied(name: str | None, number: str | None, matched: DeniedProvider | None) -> None:
    assert find_denied(name, number, [ENTRY, NAMELESS]) == matched


def test_the_shipped_deny_list_is_empty_and_valid() -> None:
    assert Registry(REPO / "expectations").denied.denied == []


def _root_with(tmp_path: Path, deny_list: str | None) -> Registry:
    root = tmp_path / "expectations"
    shutil.copytree(REPO / "expectations", root)
    target = root / "providers-denied.yaml"
    if deny_list is None:
        target.unlink()
    else:
        target.write_text(deny_list, encoding="utf-8")
    return Registry(root)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(None, "missing", id="file-missing"),
        pytest.param("denied:\n  - {legal_name: x, reason: y}\n", "denied[0].listed_on", id="no-listed-on"),
        pytest.param(
            'denied:\n  - {legal_name: x, reason: y, listed_on: 2025-01-10, corporate_number: "123"}\n',
            "denied[0].corporate_number",
            id="short-corporate-number",
        ),
        pytest.param("denied: []\nallowed: []\n", "allowed", id="unknown-key"),
        pytest.param("blocked: []\n", "denied", id="wrong-top-level-key"),
        pytest.param("denied: [\n", "providers-denied.yaml", id="not-yaml"),
    ],
)
def test_a_broken_deny_list_is_a_config_error_naming_file_and_field(
    tmp_path: Path, text: str | None, expected: str
) -> None:
    registry = _root_with(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        _ = registry.denied
    assert "providers-denied.yaml" in str(caught.value)
    assert expected in str(caught.value)


def test_an_empty_value_is_an_empty_list(tmp_path: Path) -> None:
    assert _root_with(tmp_path, "denied:\n").denied.denied == []

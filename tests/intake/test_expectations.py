"""The custom Japanese expectations, run through GX itself on values that pass and fail."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

PHONES_OK = [
    "090-1234-5678",
    "09012345678",
    "070-1234-5678",
    "03-1234-5678",
    "0312345678",
    "045-123-4567",
    "0466-12-3456",
    "01267-1-2345",
    "0120-123-456",
    "0120123456",
    "0800-123-4567",
    "08001234567",
]
PHONES_BAD = [
    "45-1234-5678",
    "090-1234-567",
    "０９０-1234-5678",
    "+81-90-1234-5678",
    "03-1234-56789",
    "090 1234 5678",
    "0570-123-456",
    "050-1234-5678x",
    "090-1234-5678\n",
]
CASES = [
    (
        "ExpectColumnValuesToBeJpPostalCode",
        ["100-0005", "012-3456"],
        ["1000005", "100-005", "１００-０００５", "100-00051", "100-0005\n"],
    ),
    ("ExpectColumnValuesToBeJpPhoneNumber", PHONES_OK, PHONES_BAD),
    (
        "ExpectColumnValuesToBeFullWidthKatakana",
        ["ヤマダ　タロウ", "ヴァージル ケー", "スズキ"],
        ["やまだ たろう", "ﾔﾏﾀﾞ", "Yamada", "ヤマダ・タロウ", "山田", "ヤマダ\n"],
    ),
    (
        "ExpectColumnValuesToBeEmailAddress",
        ["a@example.jp", "first.last+tag@sub.example.co.jp"],
        [
            "a@",
            "@example.jp",
            "a@@example.jp",
            "a b@example.jp",
            "a@example",
            "a..b@example.jp",
            "a@example.jp\n",
        ],
    ),
]


@pytest.fixture(scope="module")
def gx_validate() -> Any:
    from kakunin import gx_expectations as expectations
    from kakunin.intake.accuracy import _gx_context

    context = _gx_context()
    definition = (
        context.data_sources.add_or_update_pandas("expectation-tests")
        .add_dataframe_asset("values")
        .add_batch_definition_whole_dataframe("all")
    )

    def validate(class_name: str, values: list[str]) -> list[int]:
        expectation = getattr(expectations, class_name)(column="value")
        batch = definition.get_batch(batch_parameters={"dataframe": pd.DataFrame({"value": values})})
        result = batch.validate(expectation, result_format={"result_format": "COMPLETE"})
        return list(result.result["unexpected_index_list"])

    return validate


@pytest.mark.parametrize(("class_name", "good", "bad"), CASES, ids=[c[0] for c in CASES])
def test_expectation_passes_good_and_fails_bad_values(
    gx_validate: Any, class_name: str, good: list[str], bad: list[str]
) -> None:
    values = good + bad
    failed = gx_validate(class_name, values)
    assert [values[i] for i in failed] == bad


def test_the_suite_file_uses_the_custom_expectations(registry: Any) -> None:
    import json

    contract = registry.contract("jp_customer_leads")
    suite = json.loads((registry.root / "jp_customer_leads" / contract.suite).read_text(encoding="utf-8"))
    types = {e["type"] for e in suite["expectations"]}
    assert {
        "expect_column_values_to_be_jp_postal_code",
        "expect_column_values_to_be_jp_phone_number",
        "expect_column_values_to_be_full_width_katakana",
        "expect_column_values_to_be_email_address",
        "expect_column_values_to_be_unique",
    } <= types


def test_the_gx_fingerprint_hook_still_exists() -> None:
    """accuracy replaces GX's per-value batch hash; if GX moves it, this fails instead of slowing down."""
    from great_expectations.execution_engine import pandas_execution_engine

    from kakunin.intake.accuracy import _cheap_fingerprint, _gx_context

    _gx_context()
    assert pandas_execution_engine.hash_pandas_dataframe is _cheap_fingerprint


def test_every_regex_in_the_suites_is_anchored_at_the_very_end(registry: Any) -> None:
    """`$` also matches before a final newline, so `"C1450003\\n"` would pass `^C[0-9]{7}$`."""
    import json

    for suite_path in registry.root.glob("*/*suite*.json"):
        for expectation in json.loads(suite_path.read_text(encoding="utf-8"))["expectations"]:
            regex = expectation.get("kwargs", {}).get("regex")
            if regex is not None:
                assert regex.endswith("\\Z"), (suite_path, regex)

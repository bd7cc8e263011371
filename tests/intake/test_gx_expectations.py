"""`kakunin.gx_expectations` as a GX user meets it: the README's snippet, the rules in words,
registration that can run twice, and validation without progress bars."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "expectations" / "README.md"
PLUGINS = str(REPO / "plugins")


def _snippet() -> str:
    match = re.search(r"<!-- snippet: plain-gx -->\s*```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert match, "expectations/README.md lost its plain-GX snippet"
    return match.group(1)


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env={"PYTHONPATH": PLUGINS}, timeout=300
    )


def test_the_readme_snippet_loads_and_runs_the_suite_in_plain_gx() -> None:
    done = _python(_snippet())
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n") == ["expect_column_values_to_be_jp_postal_code postal_code", ""]
    assert "Calculating Metrics" not in done.stderr


def test_without_the_import_plain_gx_silently_drops_the_four_rules() -> None:
    """What the README warns of: GX logs each unknown type and validates the suite without it."""
    done = _python(_snippet().replace("import kakunin.gx_expectations", "pass  #"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == ""  # the bad postal code went unnoticed
    for kind in ("jp_postal_code", "jp_phone_number", "full_width_katakana", "email_address"):
        assert f"expect_column_values_to_be_{kind} not found" in done.stderr


REGISTER_TWICE = """
import importlib, importlib.util, logging, sys
from datetime import date
from pathlib import Path

import pandas as pd

logging.basicConfig(level=logging.WARNING)
import kakunin.gx_expectations as first
# what Airflow's plugin loader does with every file under plugins/: import it under another name
spec = importlib.util.spec_from_file_location("unusual_prefix_gx_expectations", first.__file__)
second = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = second
spec.loader.exec_module(second)
importlib.reload(first)
assert second.ExpectColumnValuesToBeJpPostalCode is first.ExpectColumnValuesToBeJpPostalCode

from kakunin.intake.accuracy import SuiteRunner
suite = Path("expectations/jp_customer_leads/accuracy_suite.json")
for _ in range(2):
    runner = SuiteRunner(suite, parameters={"received_on": date(2026, 11, 20)})
    runner.validate(pd.DataFrame({c: ["x"] * 3 for c in runner.columns}))
print("done")
"""


def test_registering_twice_warns_nothing_and_validation_prints_no_progress_bars() -> None:
    done = _python(REGISTER_TWICE)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "done"
    assert "Overwriting declaration" not in done.stderr
    assert "Calculating Metrics" not in done.stderr
    assert "it/s" not in done.stderr


WORDS = [
    ("ExpectColumnValuesToBeJpPostalCode", "Japanese postal codes (NNN-NNNN)"),
    ("ExpectColumnValuesToBeJpPhoneNumber", "Japanese phone numbers (fixed line, mobile 070/080/090, 0120 or 0800"),
    ("ExpectColumnValuesToBeFullWidthKatakana", "full-width katakana (全角カタカナ"),
    ("ExpectColumnValuesToBeEmailAddress", "email addresses (local-part@domain.tld)"),
]


def _filled(template: dict[str, Any]) -> str:
    text = str(template["template"])
    for name, value in sorted(template.get("params", {}).items(), key=lambda kv: -len(kv[0])):
        text = text.replace(f"${name}", str(value))
    return text


@pytest.mark.parametrize(("class_name", "words"), WORDS, ids=[w[0] for w in WORDS])
def test_each_rule_is_described_in_words(class_name: str, words: str) -> None:
    from kakunin import gx_expectations

    expectation = getattr(gx_expectations, class_name)(column="c", mostly=0.95)
    (legacy,) = expectation._prescriptive_renderer(configuration=expectation.configuration)
    assert _filled(legacy.to_json_dict()["string_template"]).startswith(f"c values must be {words}")
    assert _filled(legacy.to_json_dict()["string_template"]).endswith(", at least 95 % of the time.")
    expectation.render()
    (atomic,) = expectation.rendered_content
    assert f"values must be {words}" in atomic.value.template
    assert "regular expression" not in atomic.value.template


def test_a_failed_rule_says_how_many_rows_are_not_what_it_expects() -> None:
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult

    from kakunin.gx_expectations import ExpectColumnValuesToBeJpPostalCode

    expectation = ExpectColumnValuesToBeJpPostalCode(column="postal_code")
    result = ExpectationValidationResult(
        success=False,
        expectation_config=expectation.configuration,
        result={"element_count": 600, "unexpected_count": 3, "unexpected_percent": 0.5, "missing_count": 0},
    )
    (statement,) = ExpectColumnValuesToBeJpPostalCode._diagnostic_unexpected_statement_renderer(result=result)
    text = _filled(statement.to_json_dict()["string_template"]).strip()
    assert text == "3 of 600 rows (0.5%) are not Japanese postal codes (NNN-NNNN)."

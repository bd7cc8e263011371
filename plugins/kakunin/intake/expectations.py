"""Japan-specific accuracy rules (APPI Art. 22) as Great Expectations expectation classes.

Each class is a regex expectation with its pattern set, so a suite reads as sentences
(`expect_column_values_to_be_jp_postal_code`). Patterns use `[0-9]`, not `\\d`: Python's
`\\d` also matches full-width digits, which these fields must not contain. They end in
`\\Z`, not `$`: `$` also matches before a final newline, so a quoted CSV value
`"100-0005\\n"` would pass. Importing this module registers the classes with GX, so it
imports GX: keep it off the CLI's fast path.
"""

from __future__ import annotations

from great_expectations.expectations.core.expect_column_values_to_match_regex import (
    ExpectColumnValuesToMatchRegex,
)

_JP_PHONE = (
    r"^(?:"
    r"0[789]0-?[0-9]{4}-?[0-9]{4}"  # mobile: 070/080/090, 11 digits
    r"|0120-?[0-9]{3}-?[0-9]{3}"  # toll-free 0120, 10 digits
    r"|0800-?[0-9]{3}-?[0-9]{4}"  # toll-free 0800, 11 digits
    r"|0[1-9][0-9]{8}"  # fixed line, 10 digits, no hyphens
    r"|0[1-9](?:-[0-9]{4}|[0-9]-[0-9]{3}|[0-9]{2}-[0-9]{2}|[0-9]{3}-[0-9])-[0-9]{4}"  # fixed line, hyphenated
    r")\Z"
)
_EMAIL = (
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\Z"
)


class ExpectColumnValuesToBeJpPostalCode(ExpectColumnValuesToMatchRegex):
    """Values are Japanese postal codes (郵便番号) written NNN-NNNN in half-width digits."""

    regex: str = r"^[0-9]{3}-[0-9]{4}\Z"


class ExpectColumnValuesToBeJpPhoneNumber(ExpectColumnValuesToMatchRegex):
    """Values are Japanese phone numbers: fixed line, mobile, 0120 or 0800; hyphens optional; half-width digits."""

    regex: str = _JP_PHONE


class ExpectColumnValuesToBeFullWidthKatakana(ExpectColumnValuesToMatchRegex):
    """Values are full-width katakana (全角カタカナ), with spaces and the long-vowel mark ー only."""

    regex: str = r"^[ァ-ヶー 　]+\Z"


class ExpectColumnValuesToBeEmailAddress(ExpectColumnValuesToMatchRegex):
    """Values are plausible email addresses: a local part, @, and a domain with a top-level label."""

    regex: str = _EMAIL


CUSTOM_EXPECTATIONS = (
    ExpectColumnValuesToBeJpPostalCode,
    ExpectColumnValuesToBeJpPhoneNumber,
    ExpectColumnValuesToBeFullWidthKatakana,
    ExpectColumnValuesToBeEmailAddress,
)

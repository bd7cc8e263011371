"""Matching a business against the deny list (`expectations/providers-denied.yaml`).

Names are written many ways: ㈱名簿センター, 株式会社 名簿センター, 名簿センター（株）. The
spec makes them one: NFKC normalisation, spaces removed, and 株式会社 / (株) / ㈱ / 有限会社 /
(有) ignored wherever they stand. A corporate number (法人番号) identifies a business for
certain, so when the entry and the document both give one, only the numbers are compared:
two companies may share a name, never a number.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from kakunin.contracts import DeniedProvider

# After NFKC, ㈱ and （株） are both "(株)" and ㈲ is "(有)"; the forms are removed longest first.
_COMPANY_FORMS = ("株式会社", "有限会社", "(株)", "(有)")


def normalise_company_name(name: str) -> str:
    """The form two spellings of one business name share (spec: NFKC, no spaces, company form ignored)."""
    text = "".join(unicodedata.normalize("NFKC", name).split())
    for form in _COMPANY_FORMS:
        text = text.replace(form, "")
    return text


def find_denied(
    legal_name: str | None, corporate_number: str | None, denied: Iterable[DeniedProvider]
) -> DeniedProvider | None:
    """The first deny-list entry this business matches, or None."""
    name = normalise_company_name(legal_name) if legal_name else ""
    for entry in denied:
        if corporate_number and entry.corporate_number:
            if corporate_number.strip() == entry.corporate_number:
                return entry
        elif name and name == normalise_company_name(entry.legal_name):
            return entry
    return None

"""One check for "each name once" (purpose ids, column names, evidence ids, CSV headers)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable


def repeated(values: Iterable[str]) -> list[str]:
    """The values that occur more than once, sorted (empty when each occurs once)."""
    return sorted(value for value, count in Counter(values).items() if count > 1)

"""The audit tests start from the data-subject tests' store: two providers' batches, published by real intake."""

from __future__ import annotations

from tests.subjects.conftest import _two_providers_store, store, two_providers

__all__ = ["_two_providers_store", "store", "two_providers"]

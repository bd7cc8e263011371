"""The audit tests (review end to end, read logging) run on the subjects' published two-providers store."""

from tests.subjects.conftest import _two_providers_store, store, two_providers

__all__ = ["_two_providers_store", "store", "two_providers"]

"""The audit review's end-to-end tests run on the subjects' published two-providers store."""

from tests.subjects.conftest import _two_providers_store, store, two_providers

__all__ = ["_two_providers_store", "store", "two_providers"]

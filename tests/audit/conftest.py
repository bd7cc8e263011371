"""The data-subject tests' two-providers store, for the read-logging tests."""

from tests.subjects.conftest import _two_providers_store, store, two_providers

__all__ = ["_two_providers_store", "store", "two_providers"]

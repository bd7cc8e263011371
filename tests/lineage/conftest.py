"""Lineage tests reuse the intake fixtures: a store with submitted batches and a context."""

from tests.intake.conftest import store, submit

__all__ = ["store", "submit"]

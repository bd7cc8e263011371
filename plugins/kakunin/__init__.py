"""Kakunin."""

"""Kakunin's dev tools: the demo's sample batches and `make bench`.

Kept out of the runtime package `kakunin` (and out of `plugins/`, whose every file Airflow
imports) so that Faker and demo code never ship; installed into the dev venv by `make install`.
"""

"""Lineage: manifests, receipt records, the hash chains, and the auditor's trace and verify."""

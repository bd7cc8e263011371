"""Intake: a landed batch through the provenance gate, parsing, accuracy, record ids, publish and lineage."""

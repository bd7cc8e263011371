"""Small edits that turn a good sample document or data file into another sample (dev only).

A `Mutation` changes the document (and may write files into the batch folder); a
`DataMutation` changes `data.csv`. `samples` and `samples_v2` build their batches from these.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kakunin.hashing import sha256_bytes

Mutation = Callable[[dict[str, Any], Path], object]
DataMutation = Callable[[Path], object]


def set_field(path: str, value: Any) -> Mutation:
    """A mutation that sets one dotted path (`consent.evidence`) to `value`."""

    def mutate(doc: dict[str, Any], batch: Path) -> None:
        *parents, last = path.split(".")
        target = doc
        for part in parents:
            target = target[part]
        target[last] = value

    return mutate


def all_of(*mutations: Mutation) -> Mutation:
    def mutate(doc: dict[str, Any], batch: Path) -> None:
        for mutation in mutations:
            mutation(doc, batch)

    return mutate


def add_evidence(doc: dict[str, Any], batch: Path, evidence_id: str, kind: str, title: str) -> None:
    """Write one more evidence file into the batch and list it in the document."""
    content = f"%PDF-1.4\n% Kakunin sample evidence: {title} ({evidence_id})\n%%EOF\n".encode()
    (batch / f"evidence/{evidence_id}.pdf").write_bytes(content)
    entry = {"id": evidence_id, "kind": kind, "file": f"evidence/{evidence_id}.pdf", "sha256": sha256_bytes(content)}
    doc["evidence"].append(entry)


def legal_obligation(doc: dict[str, Any], batch: Path) -> None:
    """Ground legal_obligation with its block: accepted with the ground.review warning (v2: the only one)."""
    doc["legal_ground"] = "legal_obligation"
    del doc["consent"]
    doc["legal_obligation"] = {"law": "犯罪収益移転防止法第4条", "evidence": ["contract-2026"]}


def edit_rows(path: Path, edit: Callable[[list[list[str]]], object]) -> None:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    edit(rows)
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8"))


def keep_columns(columns: list[str]) -> DataMutation:
    """A data mutation keeping only `columns` (the entrusted mailing list has five of the leads' ten)."""

    def mutate(path: Path) -> None:
        def edit(rows: list[list[str]]) -> None:
            indexes = [rows[0].index(name) for name in columns]
            rows[:] = [[row[i] for i in indexes] for row in rows]

        edit_rows(path, edit)

    return mutate

"""What every check takes: the context beside the document, and the small helpers they share."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from kakunin.contracts import DatasetContract, DeniedProvider
from kakunin.provenance.findings import Finding
from kakunin.provenance.model import Contractor, EvidenceKind, ProvenanceDocument


class EvidenceFileState(StrEnum):
    """What was found at an evidence entry's `file` (decided by `evidence.inspect_evidence`)."""

    OK = "ok"
    MISSING = "missing"
    UNSAFE = "unsafe"
    HASH_MISMATCH = "hash_mismatch"


@dataclass(frozen=True)
class CheckContext:
    """Everything a check may look at besides the document."""

    contract: DatasetContract | None
    registered_purposes: frozenset[str]
    today: date
    evidence_states: Mapping[str, EvidenceFileState]
    denied: tuple[DeniedProvider, ...] = ()


Check = Callable[[ProvenanceDocument, CheckContext], Iterator[Finding]]


def blank(value: str | None) -> bool:
    return value is None or not value.strip()


def evidence_kinds(doc: ProvenanceDocument, ids: list[str]) -> set[EvidenceKind]:
    """The kinds of the defined evidence entries among `ids` (undefined ids are evidence.missing)."""
    defined = doc.evidence_by_id()
    return {defined[i].kind for i in ids if i in defined}


def walk_contractors(contractors: list[Contractor], prefix: str) -> Iterator[tuple[str, Contractor]]:
    """Every contractor at any depth, with its path (`contractors[0].subcontractors[1]`)."""
    for i, contractor in enumerate(contractors):
        path = f"{prefix}[{i}]"
        yield path, contractor
        yield from walk_contractors(contractor.subcontractors, f"{path}.subcontractors")

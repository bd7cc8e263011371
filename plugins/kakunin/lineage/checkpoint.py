"""Signed checkpoints: anchors for the chain tails, kept outside the store.

A hash chain shows that nothing in its middle changed, but not that its newest entries
are still there: whoever can delete `audit/log/000000000042.json` leaves a shorter chain
that is still perfectly linked. A checkpoint records the head (sequence and SHA-256 of the
last entry) of every chain and counts that can only grow, signed with an Ed25519 key held
outside the store. Verifying against a checkpoint kept elsewhere (an auditor's copy, WORM
storage) then shows removals and rewrites of anything the checkpoint saw. Entries added
after the newest checkpoint, and then removed, are not detected; nor is anything by a
holder of the signing key.

The store keeps its own log of checkpoints (`layout.CHECKPOINTS`, a hash chain like the
others), which `--against-log` checks; on S3 it is meant to sit under Object Lock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kakunin.errors import InputError, KakuninError
from kakunin.hashing import sha256_bytes
from kakunin.layout import (
    AUDIT_CHAIN,
    CERTIFICATE_CHAIN,
    CERTIFICATES,
    CHECKPOINTS,
    HOLDS,
    MANIFEST_CHAIN,
    QUARANTINE,
    batch_prefix,
    chain_entry_key,
    chain_sequence,
    checkpoint_key,
    closed_certificate_run,
    folder_prefix,
    is_chain_entry,
    is_rejection_key,
    placed_hold_id,
)
from kakunin.lineage.chain import Chain, canonical_json
from kakunin.lineage.formats import ChainLink, ManifestHeader
from kakunin.lineage.problems import Problem
from kakunin.lineage.signing import public_key_id, sign, signature_valid, signing_key_from_env
from kakunin.storage import ObjectStore

CHECKPOINT_KIND = "kakunin.checkpoint/v1"

# The chains a checkpoint anchors, by the name it gives them.
CHAINS: dict[str, str] = {"manifests": MANIFEST_CHAIN, "certificates": CERTIFICATE_CHAIN, "audit": AUDIT_CHAIN}


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Head(_Record):
    """A chain's last entry when the checkpoint was taken; sequence 0 (and no hash) for an empty chain."""

    sequence: int = Field(ge=0)
    sha256: str | None


class CheckpointCounts(_Record):
    """Counts that can only grow: a later store with fewer of any of them lost something."""

    manifest_entries: int = Field(ge=0, description="entries in the manifest chain")
    certificate_entries: int = Field(ge=0, description="entries in the certificate chain")
    audit_entries: int = Field(ge=0, description="entries in the audit log")
    manifests: int = Field(ge=0, description="manifest headers linked into the manifest chain and present")
    published_records: int = Field(ge=0, description="sum of counts.published over those headers")
    closed_certificates: int = Field(ge=0, description="closed purge certificates in the store")
    holds: int = Field(ge=0, description="legal holds ever placed (a release is a separate record)")
    rejections: int = Field(ge=0, description="rejection records of quarantined batches (they are never purged)")


class Checkpoint(_Record):
    """kakunin.checkpoint/v1: the heads and counts of a store at one moment, signed (Ed25519)."""

    kind: Literal["kakunin.checkpoint/v1"] = "kakunin.checkpoint/v1"
    sequence: int = Field(ge=1, description="place in the store's checkpoint log")
    created_at: datetime
    heads: dict[str, Head]
    counts: CheckpointCounts
    previous: str | None = Field(description="SHA-256 of the previous checkpoint's bytes in the log")
    public_key_id: str = Field(description="first 16 hex of the SHA-256 of the raw Ed25519 public key")
    signature: str = Field(description="hex Ed25519 signature of the canonical JSON of every other field")

    def signed_bytes(self) -> bytes:
        """What the signature covers: the canonical JSON of the checkpoint without `signature`."""
        return canonical_json(self.model_dump(mode="json", exclude={"signature"}))

    def entry_bytes(self) -> bytes:
        """The checkpoint as stored in the log and written for the auditor."""
        return canonical_json(self.model_dump(mode="json"))

    def label(self) -> str:
        return f"checkpoint {self.sequence} of {self.created_at.isoformat(timespec='seconds')}"


@dataclass(frozen=True)
class Observation:
    """What a checkpoint would record of the store now (heads and counts)."""

    heads: dict[str, Head]
    counts: CheckpointCounts


def observe(store: ObjectStore) -> Observation:
    """The store's chain heads and growing counts, read once (checking many checkpoints reuses it)."""
    heads: dict[str, Head] = {}
    entries: dict[str, int] = {}
    for name, prefix in CHAINS.items():
        chain = Chain(store, prefix)
        keys = [k for k in chain.keys() if is_chain_entry(prefix, k)]  # noqa: SIM118 - a Chain is no dict
        entries[name] = len(keys)
        last = keys[-1] if keys else None
        heads[name] = Head(
            sequence=chain_sequence(last) if last else 0,
            sha256=sha256_bytes(store.get_bytes(last)) if last else None,
        )
    manifests, published = _published(store)
    certificates = sum(1 for k in store.list_keys(folder_prefix(CERTIFICATES)) if closed_certificate_run(k))
    holds = sum(1 for k in store.list_keys(folder_prefix(HOLDS)) if placed_hold_id(k))
    rejections = sum(1 for k in store.list_keys(batch_prefix(QUARANTINE)) if is_rejection_key(k))
    counts = CheckpointCounts(
        manifest_entries=entries["manifests"],
        certificate_entries=entries["certificates"],
        audit_entries=entries["audit"],
        manifests=manifests,
        published_records=published,
        closed_certificates=certificates,
        holds=holds,
        rejections=rejections,
    )
    return Observation(heads=heads, counts=counts)


def _published(store: ObjectStore) -> tuple[int, int]:
    """(linked headers present, their published records); what `verify` would flag is skipped here."""
    manifests = published = 0
    for _, data in Chain(store, MANIFEST_CHAIN).entries():
        try:
            link = ChainLink.model_validate_json(data)
            header = ManifestHeader.model_validate_json(store.get_bytes(link.header_key))
        except (ValidationError, KakuninError):  # a broken link counts as nothing; verify reports it
            continue
        manifests += 1
        published += header.counts.published
    return manifests, published


# ── taking one ──────────────────────────────────────────────────────────────────────


def build_checkpoint(
    observation: Observation, key: Ed25519PrivateKey, *, sequence: int, previous: str | None, now: datetime
) -> Checkpoint:
    """A signed checkpoint of `observation` (pure: no store)."""
    unsigned = Checkpoint(
        sequence=sequence,
        created_at=now,
        heads=observation.heads,
        counts=observation.counts,
        previous=previous,
        public_key_id=public_key_id(key.public_key()),
        signature="",
    )
    return unsigned.model_copy(update={"signature": sign(key, unsigned.signed_bytes())})


def take_checkpoint(store: ObjectStore, key: Ed25519PrivateKey, *, now: datetime) -> Checkpoint:
    """Observe the store, sign, and append the checkpoint to the store's log; returns it."""
    observation = observe(store)
    taken: list[Checkpoint] = []

    def build(sequence: int, previous: str | None) -> bytes:
        taken[:] = [build_checkpoint(observation, key, sequence=sequence, previous=previous, now=now)]
        return taken[0].entry_bytes()

    Chain(store, CHECKPOINTS).append(build)
    return taken[0]


def checkpoint_if_configured(store: ObjectStore, *, now: datetime) -> str:
    """For a scheduler: take a checkpoint when `KAKUNIN_SIGNING_KEY` is set; one line saying what happened."""
    key = signing_key_from_env()
    if key is None:
        return "KAKUNIN_SIGNING_KEY is not set: no checkpoint taken"
    return summary_line(take_checkpoint(store, key, now=now))


def summary_line(checkpoint: Checkpoint) -> str:
    """Heads and counts in one line (no personal data: there is none in a checkpoint)."""
    heads = ", ".join(f"{name} {head.sequence}" for name, head in checkpoint.heads.items())
    counts = ", ".join(f"{name} {value}" for name, value in checkpoint.counts.model_dump().items())
    return f"{checkpoint.label()} signed by key {checkpoint.public_key_id}: heads {heads}; counts {counts}"


# ── reading one ─────────────────────────────────────────────────────────────────────


def parse_checkpoint(data: bytes, where: str) -> Checkpoint:
    """A checkpoint from its bytes; `InputError` (naming `where`) for anything else."""
    try:
        parsed = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{where} is not JSON: {exc}") from exc
    if not isinstance(parsed, dict) or parsed.get("kind") != CHECKPOINT_KIND:
        kind = parsed.get("kind") if isinstance(parsed, dict) else None
        raise InputError(f"{where} is not a {CHECKPOINT_KIND} document (kind: {kind!r})")
    try:
        return Checkpoint.model_validate(parsed)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise InputError(f"{where} is not a valid checkpoint: {field}: {first['msg']}") from exc


def read_checkpoint_file(path: Path) -> Checkpoint:
    """The auditor's copy of a checkpoint; `InputError` when it is missing or not one."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from exc
    return parse_checkpoint(data, str(path))


# ── checking against one ────────────────────────────────────────────────────────────


def check_checkpoint(
    store: ObjectStore,
    checkpoint: Checkpoint,
    public_key: Ed25519PublicKey | None,
    *,
    now: Observation | None = None,
) -> list[Problem]:
    """Everything the store lost or changed since `checkpoint` saw it; its signature first (if a key is given)."""
    problems: list[Problem] = []
    label = checkpoint.label()

    def fail(where: str, message: str) -> None:
        problems.append(Problem(check="checkpoint", where=where, message=message))

    if public_key is not None:
        given = public_key_id(public_key)
        if checkpoint.public_key_id != given:
            fail(label, f"signed by key {checkpoint.public_key_id}, not by the given public key {given}")
        elif not signature_valid(public_key, checkpoint.signed_bytes(), checkpoint.signature):
            fail(label, "the signature does not verify: the checkpoint was altered, or not signed by this key")
    current = now or observe(store)
    for name, head in checkpoint.heads.items():
        prefix = CHAINS.get(name)
        if prefix is None:
            fail(label, f"names a chain {name!r} this version does not know")
            continue
        if head.sequence == 0:
            continue
        ends_at = current.heads[name].sequence
        entry = chain_entry_key(prefix, head.sequence)
        if ends_at < head.sequence:
            fail(prefix, f"the chain ends at {ends_at}, the {label} saw {head.sequence}: entries were removed")
        elif not store.exists(entry):
            fail(entry, f"entry {head.sequence} is missing; the {label} saw it")
        elif sha256_bytes(store.get_bytes(entry)) != head.sha256:
            fail(entry, f"diverges from the {label}: entry {head.sequence} changed")
    was, is_now = checkpoint.counts.model_dump(), current.counts.model_dump()
    for name, then in was.items():
        if is_now[name] < then:
            fail(f"counts.{name}", f"{is_now[name]} now, the {label} saw {then}: these only grow, so some were removed")
    saw = sum(head.sequence for head in checkpoint.heads.values())
    if saw and not any(head.sequence for head in current.heads.values()):
        fail(
            store.describe(),
            f"the store has no chains at all, but the {label} saw {saw} entr{'y' if saw == 1 else 'ies'}: "
            "it was emptied, or KAKUNIN_HOME names the wrong folder",
        )
    return problems


def read_log(store: ObjectStore) -> tuple[list[Checkpoint], list[Problem]]:
    """The store's checkpoint log in order, with every break in its chain (order, linkage, format)."""
    found: list[Checkpoint] = []
    problems: list[Problem] = []
    previous: str | None = None
    expected = 1
    for key, data in Chain(store, CHECKPOINTS).entries():
        if not is_chain_entry(CHECKPOINTS, key):
            continue
        sequence = chain_sequence(key)
        if sequence != expected or key != checkpoint_key(sequence):
            problems.append(Problem(check="checkpoint", where=key, message=f"expected checkpoint {expected} next"))
        try:
            checkpoint = parse_checkpoint(data, key)
        except InputError as exc:
            problems.append(Problem(check="checkpoint", where=key, message=str(exc)))
        else:
            if checkpoint.sequence != sequence:
                message = f"says it is checkpoint {checkpoint.sequence}, but is stored as {sequence}"
                problems.append(Problem(check="checkpoint", where=key, message=message))
            if checkpoint.previous != previous:
                message = "does not name the hash of the checkpoint before it: changed, removed or reordered"
                problems.append(Problem(check="checkpoint", where=key, message=message))
            found.append(checkpoint)
        previous, expected = sha256_bytes(data), sequence + 1
    return found, problems


@dataclass(frozen=True)
class Anchors:
    """What `verify` checks the chain tails against: checkpoints kept elsewhere, and/or the store's log."""

    checkpoints: Sequence[tuple[str, Checkpoint]] = ()  # (where it came from, the checkpoint)
    public_key: Ed25519PublicKey | None = None
    against_log: bool = False


NO_ANCHORS = "none (the newest entries could be removed undetected; pass --checkpoint)"


def check_anchors(store: ObjectStore, anchors: Anchors | None) -> tuple[list[Problem], list[str]]:
    """(problems, one line per anchor used) for `verify`; no anchors, no problems and no lines."""
    if anchors is None:
        return [], []
    problems: list[Problem] = []
    used: list[str] = []
    now = observe(store)
    signer = f"key {public_key_id(anchors.public_key)}" if anchors.public_key else None
    for source, checkpoint in anchors.checkpoints:
        problems += check_checkpoint(store, checkpoint, anchors.public_key, now=now)
        checked = f"signature checked with {signer}" if signer else "signature NOT checked (no public key)"
        used.append(f"{checkpoint.label()} from {source} ({checked})")
    if anchors.against_log:
        logged, broken = read_log(store)
        problems += broken
        for checkpoint in logged:
            problems += check_checkpoint(store, checkpoint, anchors.public_key, now=now)
        checked = f"signatures checked with {signer}" if signer else "signatures NOT checked (no public key)"
        newest = f", newest {logged[-1].label()}" if logged else ""
        used.append(f"the store's checkpoint log: {len(logged)} checkpoint(s){newest} ({checked})")
    return problems, used

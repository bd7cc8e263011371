"""Evidence files: present, unaltered, and never reached through a path that leaves the batch."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kakunin.contracts import Registry
from kakunin.provenance.document import check_path
from tests.conftest import TODAY

MakeBatch = Callable[..., Path]


def set_file(index: int, file: str) -> Callable[[dict[str, Any], Path], None]:
    def mutate(doc: dict[str, Any], batch: Path) -> None:
        doc["evidence"][index]["file"] = file

    return mutate


def findings_of(batch: Path, registry: Registry) -> set[tuple[str, str]]:
    verdict = check_path(batch, registry=registry, today=TODAY)
    return {(f.code.value, f.path) for f in verdict.findings}


@pytest.mark.parametrize(
    "file",
    [
        pytest.param("../outside.pdf", id="parent"),
        pytest.param("evidence/../../outside.pdf", id="parent-inside-path"),
        pytest.param("/etc/passwd", id="absolute"),
        pytest.param("C:/evidence/contract.pdf", id="windows-drive"),
        pytest.param("evidence\\..\\..\\outside.pdf", id="backslashes"),
    ],
)
def test_paths_that_leave_the_batch_are_unsafe(make_batch: MakeBatch, registry: Registry, file: str) -> None:
    batch = make_batch(set_file(0, file))
    (batch.parent / "outside.pdf").write_bytes(b"outside")
    assert findings_of(batch, registry) == {("evidence.unsafe_path", "evidence[0].file")}


def test_a_symlink_pointing_outside_is_unsafe_and_not_read(make_batch: MakeBatch, registry: Registry) -> None:
    def link_out(doc: dict[str, Any], batch: Path) -> None:
        secret = batch.parent / "secret.pdf"
        secret.write_bytes(b"not yours")
        (batch / "evidence" / "linked.pdf").symlink_to(secret)
        doc["evidence"][0].update(file="evidence/linked.pdf", sha256=hashlib.sha256(b"not yours").hexdigest())

    assert findings_of(make_batch(link_out), registry) == {("evidence.unsafe_path", "evidence[0].file")}


def test_a_linked_folder_is_unsafe_too(make_batch: MakeBatch, registry: Registry) -> None:
    def link_dir(doc: dict[str, Any], batch: Path) -> None:
        (batch / "docs").symlink_to(batch / "evidence")
        doc["evidence"][0]["file"] = "docs/contract-2026.pdf"

    assert findings_of(make_batch(link_dir), registry) == {("evidence.unsafe_path", "evidence[0].file")}


def test_a_missing_file_is_evidence_missing(make_batch: MakeBatch, registry: Registry) -> None:
    batch = make_batch(lambda doc, batch: (batch / "evidence" / "dpa.pdf").unlink())
    assert findings_of(batch, registry) == {("evidence.missing", "evidence[2].file")}


def test_a_folder_where_a_file_should_be_is_missing(make_batch: MakeBatch, registry: Registry) -> None:
    batch = make_batch(set_file(0, "evidence"))
    assert findings_of(batch, registry) == {("evidence.missing", "evidence[0].file")}


def test_a_changed_file_is_a_hash_mismatch(make_batch: MakeBatch, registry: Registry) -> None:
    batch = make_batch()
    with (batch / "evidence" / "consent-screens.pdf").open("ab") as handle:
        handle.write(b" ")
    assert findings_of(batch, registry) == {("evidence.hash_mismatch", "evidence[1].sha256")}


def test_hashes_may_be_written_in_upper_case(make_batch: MakeBatch, registry: Registry) -> None:
    def upper(doc: dict[str, Any], batch: Path) -> None:
        doc["evidence"][0]["sha256"] = doc["evidence"][0]["sha256"].upper()

    assert findings_of(make_batch(upper), registry) == set()


def test_a_malformed_hash_is_a_schema_error(make_batch: MakeBatch, registry: Registry) -> None:
    def placeholder(doc: dict[str, Any], batch: Path) -> None:
        doc["evidence"][0]["sha256"] = "<64 hex>"

    assert findings_of(make_batch(placeholder), registry) == {("schema", "evidence[0].sha256")}

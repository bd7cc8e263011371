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


@pytest.mark.parametrize("value", ["<64 hex>", "", "0" * 64])
def test_a_hash_that_is_not_the_files_is_a_mismatch(make_batch: MakeBatch, registry: Registry, value: str) -> None:
    def placeholder(doc: dict[str, Any], batch: Path) -> None:
        doc["evidence"][0]["sha256"] = value

    assert findings_of(make_batch(placeholder), registry) == {("evidence.hash_mismatch", "evidence[0].sha256")}


def test_blocks_the_ground_does_not_call_for_are_not_relied_on(make_batch: MakeBatch, registry: Registry) -> None:
    """The spec's example carries opt_out and gdpr blocks citing evidence it does not list."""

    def like_the_spec_example(doc: dict[str, Any], batch: Path) -> None:
        doc["opt_out"] = {"ppc_filing_id": "OPT-2023-004512", "published_on": "2023-05-01", "evidence": ["ppc-filing"]}
        doc["gdpr"] = {
            "lawful_basis": "consent",
            "art14_notice": {"provided_on": "2026-11-20", "evidence": ["letter"]},
            "purposes_at_transfer": ["marketing_email"],
        }

    assert findings_of(make_batch(like_the_spec_example), registry) == set()


def test_an_undefined_citation_in_a_block_that_applies_is_missing(make_batch: MakeBatch, registry: Registry) -> None:
    def eu(doc: dict[str, Any], batch: Path) -> None:
        doc["eu_origin"] = True
        doc["gdpr"] = {
            "lawful_basis": "consent",
            "art14_notice": {"provided_on": "2026-11-20", "evidence": ["letter"]},
            "purposes_at_transfer": ["marketing_email"],
        }

    assert findings_of(make_batch(eu), registry) == {("evidence.missing", "gdpr.art14_notice.evidence[0]")}


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        pytest.param("evidence/x.pdf", "evidence/x.pdf", id="plain"),
        pytest.param("./evidence/x.pdf", "evidence/x.pdf", id="leading-dot"),
        pytest.param("evidence//x.pdf", "evidence/x.pdf", id="double-slash"),
        pytest.param("evidence/./x.pdf", "evidence/x.pdf", id="inner-dot"),
        pytest.param("evidence/契約書2026.pdf", "evidence/契約書2026.pdf", id="japanese-name"),
        pytest.param("../x.pdf", None, id="parent"),
        pytest.param("evidence/../x.pdf", None, id="parent-inside"),
        pytest.param("/etc/passwd", None, id="absolute"),
        pytest.param("evidence\\x.pdf", None, id="backslash"),
        pytest.param("C:x.pdf", None, id="drive"),
        pytest.param("a\x00b", None, id="nul"),
        pytest.param("", None, id="empty"),
        pytest.param(".", None, id="the-folder-itself"),
    ],
)
def test_normalise_evidence_path(written: str, normalised: str | None) -> None:
    from kakunin.provenance.evidence import normalise_evidence_path

    assert normalise_evidence_path(written) == normalised


@pytest.mark.parametrize("file", ["./evidence/contract-2026.pdf", "evidence//contract-2026.pdf"])
def test_a_path_spelled_with_dots_or_double_slashes_is_the_same_file(
    make_batch: MakeBatch, registry: Registry, file: str
) -> None:
    assert findings_of(make_batch(set_file(0, file)), registry) == set()

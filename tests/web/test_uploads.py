"""Staging a browser upload as a batch folder: the server names every file; the client's names are only compared."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from kakunin.contracts import Registry
from kakunin.errors import InputError
from kakunin.hashing import sha256_bytes
from kakunin.storage import LocalStore
from kakunin.web.uploads import Upload, UploadResult, display_name, evidence_file_name, staged_batch, submit_upload

TODAY = date(2026, 11, 21)  # the day after tests/conftest.py RECEIVED_ON


def _upload(path: Path, name: str | None = None) -> Upload:
    return Upload(name if name is not None else path.name, io.BytesIO(path.read_bytes()))


def _parts(batch: Path) -> tuple[Upload, Upload, list[Upload]]:
    document = next(batch.glob("provenance.*"))
    data = next(batch.glob("data.*"))
    evidence = [_upload(p) for p in sorted((batch / "evidence").iterdir())]
    return _upload(document), _upload(data), evidence


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _submit(batch: Path, registry: Registry, tmp_path: Path, **overrides: Any) -> UploadResult:
    document, data, evidence = _parts(batch)
    parts: dict[str, Any] = {"document": document, "data": data, "evidence": evidence} | overrides
    return submit_upload(
        **parts,
        store=LocalStore(tmp_path / "store"),
        registry=registry,
        today=TODAY,
        now=datetime.now(UTC),
        max_evidence=20,
    )


def test_a_good_upload_lands_with_the_servers_names(
    make_batch: Callable[..., Path], registry: Registry, tmp_path: Path
) -> None:
    batch = make_batch()
    document, data, evidence = _parts(batch)
    renamed = [Upload(f"scan {n}.pdf", u.stream) for n, u in enumerate(evidence)]  # names differ: found by hash
    with staged_batch(
        document=Upload("PRV 2026.yml", document.stream),
        data=Upload("leads (final).csv", data.stream),
        evidence=renamed,
        max_evidence=20,
    ) as (folder, unused):
        assert _files(folder) == _files(batch)
        assert unused == []
    result = _submit(batch, registry, tmp_path)
    assert result.decision == "accepted"
    assert result.batch_id is not None
    assert result.rejection_id is None


def test_an_evidence_file_with_other_bytes_is_placed_by_name_so_the_gate_names_the_hash(
    make_batch: Callable[..., Path], registry: Registry, tmp_path: Path
) -> None:
    batch = make_batch()
    _, _, evidence = _parts(batch)
    evidence[0] = Upload(evidence[0].filename, io.BytesIO(b"%PDF-1.4 another contract"))
    result = _submit(batch, registry, tmp_path, evidence=evidence)
    assert result.decision == "rejected"
    assert result.batch_id is None
    assert result.rejection_id is not None
    assert "evidence.hash_mismatch" in {f.code.value for f in result.findings}


def test_a_missing_evidence_upload_is_reported_by_the_gate(
    make_batch: Callable[..., Path], registry: Registry, tmp_path: Path
) -> None:
    batch = make_batch()
    _, _, evidence = _parts(batch)
    result = _submit(batch, registry, tmp_path, evidence=evidence[1:])
    assert "evidence.missing" in {f.code.value for f in result.findings}


def test_a_document_path_outside_the_batch_or_onto_its_own_files_is_never_written(
    make_batch: Callable[..., Path], tmp_path: Path
) -> None:
    batch = make_batch()
    document = yaml.safe_load(next(batch.glob("provenance.*")).read_text(encoding="utf-8"))
    attack = b"%PDF-1.4 attack"
    digest = sha256_bytes(attack)
    for n, target in enumerate(["../outside.pdf", "/tmp/abs.pdf", "data.csv", "provenance.yaml"]):
        document["evidence"].append({"id": f"x{n}", "kind": "other", "file": target, "sha256": digest})
    doc = Upload("d.yaml", io.BytesIO(yaml.safe_dump(document, allow_unicode=True).encode()))
    data = _upload(next(batch.glob("data.*")))
    with staged_batch(document=doc, data=data, evidence=[Upload("a.pdf", io.BytesIO(attack))], max_evidence=20) as (
        folder,
        unused,
    ):
        assert not (folder.parent / "outside.pdf").exists()
        assert (folder / "data.csv").read_bytes() == next(batch.glob("data.*")).read_bytes()
        assert b"attack" not in (folder / "provenance.yaml").read_bytes()
        assert unused == ["a.pdf"]


@pytest.mark.parametrize(
    ("document", "data", "message"),
    [
        (b"", b"a,b\n", "provenance document is empty"),
        (b"kind: x\n", b"", "data file is empty"),
    ],
)
def test_empty_files_are_refused_with_a_message(document: bytes, data: bytes, message: str) -> None:
    with (
        pytest.raises(InputError, match=message),
        staged_batch(
            document=Upload("d.yaml", io.BytesIO(document)),
            data=Upload("x.csv", io.BytesIO(data)),
            evidence=[],
            max_evidence=2,
        ),
    ):
        pass


def test_too_many_evidence_files_are_refused() -> None:
    files = [Upload(f"{n}.pdf", io.BytesIO(b"x")) for n in range(3)]
    with (
        pytest.raises(InputError, match="at most 2"),
        staged_batch(
            document=Upload("d", io.BytesIO(b"a: 1\n")),
            data=Upload("x", io.BytesIO(b"a\n")),
            evidence=files,
            max_evidence=2,
        ),
    ):
        pass


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\leads.csv", "leads.csv"),
        ("bad\x00name\n.csv", "badname.csv"),
        ("", "(unnamed)"),
        ("名簿.csv", "名簿.csv"),
    ],
)
def test_client_names_are_shown_without_their_path_or_control_characters(given: str, shown: str) -> None:
    assert display_name(given) == shown


def test_the_forms_evidence_names_are_the_servers() -> None:
    assert evidence_file_name(3, "../../同意 画面.pdf") == "evidence/E3-file.pdf"
    assert evidence_file_name(2, "README") == "evidence/E2-README"
    assert evidence_file_name(1, "contract 2026.pdf") == "evidence/E1-contract-2026.pdf"


@pytest.mark.parametrize("paths", [["data.csv/x.pdf"], ["provenance.yaml/x.pdf"], ["a.pdf", "a.pdf/b.pdf"]])
def test_an_evidence_path_through_another_file_is_left_to_the_gate(
    make_batch: Callable[..., Path], paths: list[str]
) -> None:
    batch = make_batch()
    document = yaml.safe_load(next(batch.glob("provenance.*")).read_text(encoding="utf-8"))
    uploads = []
    for n, path in enumerate(paths):
        content = f"%PDF-1.4 file {n}".encode()
        document["evidence"].append({"id": f"y{n}", "kind": "other", "file": path, "sha256": sha256_bytes(content)})
        uploads.append(Upload(f"{n}.pdf", io.BytesIO(content)))
    doc = Upload("d.yaml", io.BytesIO(yaml.safe_dump(document, allow_unicode=True).encode()))
    with staged_batch(document=doc, data=_upload(next(batch.glob("data.*"))), evidence=uploads, max_evidence=20) as (
        folder,
        unused,
    ):
        assert (folder / "data.csv").is_file()
        assert len(unused) == len(paths) - (1 if paths[0] == "a.pdf" else 0)

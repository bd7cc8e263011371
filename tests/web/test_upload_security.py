"""Upload safety against the real server: size limits, hostile file names, too many files, CSRF."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.conftest import MAX_UPLOAD_MB, AirflowWeb
from tests.web.test_api_batches import batch_files, batch_folder, upload


def stored_batches(airflow_web: AirflowWeb) -> set[str]:
    """Every submission and rejection file in the server's store (the store is shared: compare before/after)."""
    return {
        p.relative_to(airflow_web.store).as_posix()
        for name in ("_submission.json", "rejection.json")
        for p in airflow_web.store.rglob(name)
    }


def landed_files(airflow_web: AirflowWeb, batch_id: str) -> tuple[set[str], set[str]]:
    """(the names `_submission.json` records, the keys under the batch's landing folder)."""
    [submission] = list(airflow_web.store.glob(f"landing/*/{batch_id}/_submission.json"))
    recorded = {f["path"] for f in json.loads(submission.read_text())["files"]}
    keys = {p.relative_to(submission.parent).as_posix() for p in submission.parent.rglob("*") if p.is_file()}
    return recorded, keys


def document_evidence(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in (folder / "evidence").glob("*")}


def too_large() -> bytes:
    return b"x" * (MAX_UPLOAD_MB * 1024 * 1024 + 4096)


def test_an_upload_over_the_limit_is_413_and_nothing_is_stored(airflow_web: AirflowWeb, tmp_path: Path) -> None:
    folder = batch_folder(tmp_path)
    files = batch_files(folder)
    files[1] = ("data", ("data.csv", too_large(), "text/csv"))
    before = stored_batches(airflow_web)
    with airflow_web.client("acq-01") as client:
        answer = client.post("/api/batches", files=files)
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "upload.too_large"
    assert f"{MAX_UPLOAD_MB} MiB" in answer.json()["error"]["message"]
    assert stored_batches(airflow_web) == before


def test_a_chunked_upload_over_the_limit_is_413_and_nothing_is_stored(airflow_web: AirflowWeb) -> None:
    boundary = "kakunin" + secrets.token_hex(8)

    def body() -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="data"; filename="data.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        for _ in range(MAX_UPLOAD_MB * 16 + 8):  # 64 KiB chunks, past the limit
            yield b"x" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    before = stored_batches(airflow_web)
    with airflow_web.client("acq-01") as client:
        answer = client.post(
            "/api/batches", content=body(), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )
    assert "content-length" not in {k.lower() for k in answer.request.headers}
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "upload.too_large"
    assert stored_batches(airflow_web) == before


@pytest.mark.parametrize("name", ["../../evil.csv", "/etc/passwd", "C:\\x", "bad\x00name\r\n.csv"])
def test_a_path_like_file_name_is_only_a_name(airflow_web: AirflowWeb, tmp_path: Path, name: str) -> None:
    folder = batch_folder(tmp_path)
    files = batch_files(folder)
    files[1] = ("data", (name, (folder / "data.csv").read_bytes(), "text/csv"))
    files[0] = ("document", (name, (folder / "provenance.yaml").read_bytes(), "application/yaml"))
    with airflow_web.client("acq-01") as client:
        answer = client.post("/api/batches", files=files)
    assert answer.status_code == 200, answer.text
    assert answer.json()["decision"] == "accepted"
    recorded, keys = landed_files(airflow_web, answer.json()["batch_id"])
    assert recorded == {"provenance.yaml", "data.csv", *document_evidence(folder)}
    assert {k for k in keys if not k.startswith("evidence/")} == {"provenance.yaml", "data.csv", "_submission.json"}
    for root in (airflow_web.store, airflow_web.home, airflow_web.store.parent):
        assert not [p for p in root.rglob("*") if "evil" in p.name or p.name in {"passwd", "x", "C:\\x"}]


@pytest.mark.parametrize("encoded", ["データ.csv".encode("shift_jis"), "donnée.csv".encode("latin-1")])
def test_a_file_name_that_is_not_utf8_is_accepted_as_data(
    airflow_web: AirflowWeb, tmp_path: Path, encoded: bytes
) -> None:
    folder = batch_folder(tmp_path)
    boundary = "kakunin" + secrets.token_hex(8)
    parts = [b""]
    for field, (filename, content, kind) in batch_files(folder):
        raw_name = encoded if field == "data" else filename.encode()
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="'.encode()
            + raw_name
            + f'"\r\nContent-Type: {kind}\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    with airflow_web.client("acq-01") as client:
        answer = client.post(
            "/api/batches", content=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["decision"] == "accepted"
    recorded, _ = landed_files(airflow_web, answer.json()["batch_id"])
    assert recorded == {"provenance.yaml", "data.csv", *document_evidence(folder)}


def test_too_many_evidence_files_is_400_and_says_the_limit(airflow_web: AirflowWeb, tmp_path: Path) -> None:
    folder = batch_folder(tmp_path)
    files = batch_files(folder) + [
        ("evidence", (f"extra-{n}.pdf", b"%PDF-1.4\n", "application/pdf")) for n in range(20)
    ]
    before = stored_batches(airflow_web)
    with airflow_web.client("acq-01") as client:
        answer = client.post("/api/batches", files=files)
    assert answer.status_code == 400
    assert "at most 20" in answer.json()["error"]["message"]
    assert stored_batches(airflow_web) == before


def test_an_upload_without_a_data_file_is_422_and_says_which_file(airflow_web: AirflowWeb, tmp_path: Path) -> None:
    files = [f for f in batch_files(batch_folder(tmp_path)) if f[0] != "data"]
    with airflow_web.client("acq-01") as client:
        answer = client.post("/api/batches", files=files)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "request.invalid"
    assert "data file" in answer.json()["error"]["message"]
    assert "`data`" in answer.json()["error"]["message"]


def test_a_cookie_upload_without_the_csrf_token_is_refused_and_nothing_stored(
    airflow_web: AirflowWeb, tmp_path: Path
) -> None:
    before = stored_batches(airflow_web)
    with airflow_web.client("acq-01", cookie=True) as client:
        answer = upload(client, batch_folder(tmp_path))
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "csrf.rejected"
    assert stored_batches(airflow_web) == before


def test_a_cookie_upload_with_the_token_as_form_field_or_header_goes_through(
    airflow_web: AirflowWeb, tmp_path: Path
) -> None:
    with airflow_web.client("acq-01", cookie=True) as client:
        token = airflow_web.csrf(client)
        by_field = upload(client, batch_folder(tmp_path), data={"csrf_token": token})
        by_header = upload(client, batch_folder(tmp_path), headers={"X-CSRF-Token": token})
        stale = upload(client, batch_folder(tmp_path), headers={"X-CSRF-Token": "0" * 64})
    assert by_field.status_code == 200, by_field.text
    assert by_header.status_code == 200, by_header.text
    assert by_field.json()["decision"] == by_header.json()["decision"] == "accepted"
    assert stale.status_code == 403


def test_a_bearer_upload_needs_no_csrf_token(airflow_web: AirflowWeb, tmp_path: Path) -> None:
    with airflow_web.client("acq-01") as client:
        answer = upload(client, batch_folder(tmp_path))
    assert answer.status_code == 200
    assert answer.json()["decision"] == "accepted"


def test_a_cookie_upload_from_another_origin_is_refused_even_with_the_token(
    airflow_web: AirflowWeb, tmp_path: Path
) -> None:
    before = stored_batches(airflow_web)
    with airflow_web.client("acq-01", cookie=True) as client:
        token = airflow_web.csrf(client)
        answer = upload(
            client, batch_folder(tmp_path), headers={"X-CSRF-Token": token, "Origin": "https://evil.example"}
        )
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "csrf.rejected"
    assert stored_batches(airflow_web) == before

"""Both stores (a local folder, and S3 on a real loopback endpoint): safe keys, checked and create-only
writes, listing, every version purged, ranged Parquet reads, uploads that fail midway, and the
store chosen by `KAKUNIN_STORAGE`."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kakunin.errors import ConfigError, StorageError, StorageNotFound
from kakunin.storage import LocalStore, ObjectStore, S3Store, open_store
from kakunin.storage import s3 as s3_module
from tests.conftest import S3_BUCKET, Run, s3_store
from tests.s3server import CREDENTIALS, S3Server


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("../escape", id="parent"),
        pytest.param("/etc/passwd", id="absolute"),
        pytest.param("landing//x", id="empty-part"),
        pytest.param("landing/./x", id="dot"),
        pytest.param("landing/a\x00b", id="nul"),
        pytest.param("", id="empty"),
        pytest.param("landing/x\n", id="trailing-newline"),
    ],
)
def test_unsafe_keys_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(StorageError, match="unsafe or malformed"):
        LocalStore(tmp_path).put_bytes(key, b"x")


def test_unsafe_keys_are_refused_on_s3(s3_endpoint: S3Server) -> None:
    with pytest.raises(StorageError, match="unsafe or malformed"):
        s3_store(s3_endpoint).put_bytes("landing/../../other-prefix/x", b"x")


def test_put_get_list_delete(any_store: ObjectStore) -> None:
    any_store.put_bytes("zone/b/2.json", b"two")
    any_store.put_bytes("zone/a/1.json", b"one")
    any_store.put_bytes("other/3.json", b"three")
    assert any_store.get_bytes("zone/a/1.json") == b"one"
    assert list(any_store.list_keys("zone/")) == ["zone/a/1.json", "zone/b/2.json"]
    any_store.delete("zone/a/1.json")
    assert not any_store.exists("zone/a/1.json")
    with pytest.raises(StorageNotFound):
        any_store.get_bytes("zone/a/1.json")
    with pytest.raises(StorageNotFound):
        any_store.delete("zone/a/1.json")
    assert list(any_store.list_keys("zone/")) == ["zone/b/2.json"]


def test_sha256_is_the_digest_of_the_content(any_store: ObjectStore, tmp_path: Path) -> None:
    any_store.put_bytes("zone/small.bin", b"hello")
    assert any_store.sha256("zone/small.bin") == hashlib.sha256(b"hello").hexdigest()
    with any_store.writing("zone/written.bin") as path:
        path.write_bytes(b"written through a local path")
    assert any_store.sha256("zone/written.bin") == hashlib.sha256(b"written through a local path").hexdigest()
    with pytest.raises(StorageNotFound):
        any_store.sha256("zone/absent.bin")


def test_create_only_write_never_replaces(any_store: ObjectStore) -> None:
    assert any_store.put_bytes_if_absent("audit/000001.json", b"first")
    assert not any_store.put_bytes_if_absent("audit/000001.json", b"second")
    assert any_store.get_bytes("audit/000001.json") == b"first"


def test_a_second_writer_on_another_connection_is_refused(s3_endpoint: S3Server) -> None:
    """Two workers, two clients, one key: S3's `If-None-Match: *` lets exactly one of them write it."""
    first = s3_store(s3_endpoint)
    second = S3Store(first.location, client=s3_endpoint.client())
    assert first.put_bytes_if_absent("audit/log/000001.json", b"worker one")
    assert not second.put_bytes_if_absent("audit/log/000001.json", b"worker two")
    assert second.get_bytes("audit/log/000001.json") == b"worker one"
    assert len(first.versions("audit/log/000001.json")) == 1, "the refused write left no version either"


def test_put_file_copies_content(any_store: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(bytes(range(256)) * 1000)
    any_store.put_file("landing/x/data.bin", source)
    assert any_store.get_bytes("landing/x/data.bin") == source.read_bytes()


def test_a_purge_leaves_no_version(any_store: ObjectStore) -> None:
    any_store.put_bytes("curated/d/part-1.parquet", b"version one")
    any_store.put_bytes("curated/d/part-1.parquet", b"version two")
    removed = any_store.delete("curated/d/part-1.parquet")
    assert not any_store.exists("curated/d/part-1.parquet")
    if isinstance(any_store, S3Store):
        assert len(removed) == 2, "both versions are named as removed"
        bucket, key = any_store.locate("curated/d/part-1.parquet")
        listed = any_store.client.list_object_versions(Bucket=bucket, Prefix=key)
        assert listed.get("Versions", []) == []
        assert listed.get("DeleteMarkers", []) == []
    else:
        assert removed == []
        assert not list(Path(any_store.describe()).rglob("part-1.parquet"))


def test_a_delete_removes_delete_markers_too(s3_endpoint: S3Server) -> None:
    """An object someone 'deleted' with a plain DELETE (a delete marker hides it) is still purged whole."""
    store = s3_store(s3_endpoint)
    store.put_bytes("landing/d/b/data.csv", b"name,email\n")
    bucket, key = store.locate("landing/d/b/data.csv")
    store.client.delete_object(Bucket=bucket, Key=key)  # what S3Hook.delete_objects does: a marker only
    assert not store.exists("landing/d/b/data.csv")
    assert len(store.delete("landing/d/b/data.csv")) == 2
    assert store.versions("landing/d/b/data.csv") == []


def test_rename_moves_content_and_leaves_no_version_behind(any_store: ObjectStore) -> None:
    any_store.put_bytes("landing/d/b/data.csv", b"a,b\n1,2\n")
    any_store.rename("landing/d/b/data.csv", "quarantine/d/b/data.csv")
    assert any_store.get_bytes("quarantine/d/b/data.csv") == b"a,b\n1,2\n"
    assert list(any_store.list_keys("landing/")) == []
    if isinstance(any_store, S3Store):
        assert any_store.versions("landing/d/b/data.csv") == []


def _ranges_requested(endpoint: str, action: Any) -> list[tuple[int, int]]:
    """The byte ranges of the GETs the S3 endpoint received while `action()` ran (moto's request recorder)."""

    where = urllib.parse.urlsplit(endpoint)

    def moto_api(verb: str, method: str = "POST") -> bytes:
        connection = http.client.HTTPConnection(str(where.hostname), where.port, timeout=30)
        try:
            connection.request(method, f"/moto-api/recorder/{verb}")
            return connection.getresponse().read()
        finally:
            connection.close()

    moto_api("reset-recording")
    moto_api("start-recording")
    try:
        action()
    finally:
        moto_api("stop-recording")
    recording = moto_api("download-recording", "GET").decode()
    requests = [json.loads(line) for line in recording.splitlines() if line.strip()]
    spans = []
    for request in requests:
        headers = {k.lower(): v for k, v in request["headers"].items()}
        if request["method"] == "GET" and "range" in headers:
            first, _, last = headers["range"].removeprefix("bytes=").partition("-")
            spans.append((int(first), int(last)))
    return spans


def test_parquet_is_read_in_ranges(any_store: ObjectStore) -> None:
    """A filtered read of one column fetches a small part of a large file, not all of it."""
    table = pa.table({"id": pa.array(range(200_000)), "blob": pa.array([os.urandom(32).hex() for _ in range(200_000)])})
    with any_store.writing("curated/d/part-x.parquet") as path:
        pq.write_table(table, path, row_group_size=20_000)
    ids: list[Any] = []

    def read() -> None:
        with any_store.open_input("curated/d/part-x.parquet") as handle:
            ids.extend(pq.read_table(handle, columns=["id"], filters=[("id", "<", 10)]).column("id").to_pylist())

    if not isinstance(any_store, S3Store):
        read()
    else:
        spans = _ranges_requested(str(any_store.client.meta.endpoint_url), read)
        size = any_store._head("curated/d/part-x.parquet")["ContentLength"]
        fetched = sum(last - first + 1 for first, last in spans)
        assert spans, "pyarrow read the object in ranged GETs"
        assert 0 < fetched < size / 2, f"read {fetched} of {size} bytes"
    assert ids == list(range(10))


def test_pyarrow_reads_through_a_native_file_on_both_stores(any_store: ObjectStore) -> None:
    """`open_input` hands pyarrow one of its own files, never a Python file object: pyarrow's dataset reader
    calls a Python file from its I/O threads and can abort the process at exit (seen on S3 4 times in 40,
    exit -6 after the answer was printed)."""
    any_store.put_bytes("curated/d/part-n.parquet", b"PAR1")
    with any_store.open_input("curated/d/part-n.parquet") as handle:
        assert isinstance(handle, pa.NativeFile)
        assert not isinstance(handle, pa.PythonFile)
        assert handle.read() == b"PAR1"


def test_a_short_lived_process_reads_parquet_on_s3_and_exits_cleanly(s3_endpoint: S3Server, tmp_path: Path) -> None:
    """A filtered read on S3 from a fresh process, its client from the standard AWS environment (as in the
    CLI), answers and exits 0."""
    store = s3_store(s3_endpoint)
    table = pa.table({"id": pa.array(range(100_000)), "name": pa.array([str(i) for i in range(100_000)])})
    with store.writing("curated/d/part-z.parquet") as path:
        pq.write_table(table, path, row_group_size=10_000)
    script = tmp_path / "read.py"
    script.write_text(
        "import pyarrow.parquet as pq\n"
        "from kakunin.storage import S3Store\n"
        "from kakunin.storage.config import S3Location\n"
        f"store = S3Store(S3Location({S3_BUCKET!r}, prefix={store.location.prefix!r}))\n"
        "with store.open_input('curated/d/part-z.parquet') as handle:\n"
        "    table = pq.read_table(handle, columns=['name'], filters=[('id', '>=', 99_990)])\n"
        "print(table.num_rows)\n"
    )
    env = {**os.environ, **CREDENTIALS, "AWS_ENDPOINT_URL": s3_endpoint.endpoint}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "10"), done.stderr[-800:]


def test_a_write_that_fails_midway_leaves_no_object(any_store: ObjectStore) -> None:
    def die_while_writing() -> None:
        with any_store.writing("curated/d/part-y.parquet") as path:
            path.write_bytes(b"half a file")
            raise RuntimeError("the writer died")

    with pytest.raises(RuntimeError, match="the writer died"):
        die_while_writing()
    assert not any_store.exists("curated/d/part-y.parquet")
    assert any_store.partial_writes() == []


def test_a_multipart_upload_that_fails_midway_leaves_nothing(
    s3_endpoint: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_module, "MULTIPART_THRESHOLD", 5 * 1024 * 1024)
    store = s3_store(s3_endpoint)
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(12 * 1024 * 1024))  # three parts
    parts = []

    def fail_on_the_second_part(**_: Any) -> None:
        parts.append(1)
        if len(parts) == 2:
            raise ConnectionResetError("the network went away mid-upload")

    store.client.meta.events.register("before-call.s3.UploadPart", fail_on_the_second_part)
    with pytest.raises(StorageError, match="cannot upload"):
        store.put_file("landing/d/b/data.csv", source)
    assert not store.exists("landing/d/b/data.csv")
    assert store.versions("landing/d/b/data.csv") == []
    store.client.meta.events.unregister("before-call.s3.UploadPart", fail_on_the_second_part)
    store.put_file("landing/d/b/data.csv", source)
    assert store.sha256("landing/d/b/data.csv") == hashlib.sha256(source.read_bytes()).hexdigest()


def test_an_abandoned_multipart_upload_is_found_and_swept(s3_endpoint: S3Server) -> None:
    """A writer killed between parts leaves an upload S3 keeps (and bills) until it is aborted."""
    store = s3_store(s3_endpoint)
    bucket, key = store.locate("landing/d/b/data.csv")
    upload = store.client.create_multipart_upload(Bucket=bucket, Key=key)
    store.client.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 1000)
    # (moto reports every upload as initiated on 2010-11-10, so the `stale_after` guard that spares a
    # live writer's upload cannot be exercised here: any upload on moto looks 16 years old)
    (found,) = store.partial_writes()
    assert found.bytes == 1000
    assert upload["UploadId"] in found.name
    assert [p.name for p in store.sweep_partial_writes()] == [found.name]
    assert store.partial_writes() == []
    assert not store.exists("landing/d/b/data.csv")


def test_every_write_is_encrypted_and_carries_its_checksum(s3_endpoint: S3Server) -> None:
    store = s3_store(s3_endpoint)
    store.put_bytes("lineage/receipts/r.json", b"{}")
    bucket, key = store.locate("lineage/receipts/r.json")
    head = store.client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ServerSideEncryption"] == "AES256"
    assert "ChecksumSHA256" in head


def test_a_configured_kms_key_encrypts_every_write(s3_endpoint: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    key_arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    monkeypatch.setenv("KAKUNIN_STORAGE", f"s3://{S3_BUCKET}/kms-test")
    monkeypatch.setenv("KAKUNIN_S3_KMS_KEY_ID", key_arn)
    monkeypatch.delenv("KAKUNIN_S3_ZONE_BUCKETS", raising=False)
    store = open_store(s3_client=s3_endpoint.client())
    assert isinstance(store, S3Store)
    store.put_bytes("audit/log/000001.json", b"{}")
    bucket, key = store.locate("audit/log/000001.json")
    head = store.client.head_object(Bucket=bucket, Key=key)
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key_arn)


def test_zones_can_live_in_buckets_of_their_own(s3_endpoint: S3Server) -> None:
    s3_endpoint.make_bucket("kakunin-test-lineage")
    plain = s3_store(s3_endpoint)
    location = plain.location.__class__(S3_BUCKET, plain.location.prefix, {"lineage": "kakunin-test-lineage"})
    store = S3Store(location, client=s3_endpoint.client())
    store.put_bytes("lineage/receipts/r.json", b"receipt")
    store.put_bytes("landing/d/b/x.csv", b"data")
    assert store.locate("lineage/receipts/r.json")[0] == "kakunin-test-lineage"
    assert list(store.list_keys("")) == ["landing/d/b/x.csv", "lineage/receipts/r.json"]
    assert list(plain.list_keys("")) == ["landing/d/b/x.csv"], "the main bucket holds no lineage"


# ── the store named by KAKUNIN_STORAGE ───────────────────────────────────────────────


def test_the_storage_url_chooses_the_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAKUNIN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KAKUNIN_STORAGE", raising=False)
    assert open_store().describe() == str(tmp_path / "home")
    monkeypatch.setenv("KAKUNIN_STORAGE", f"file://{tmp_path}/srv")
    assert open_store().describe() == f"{tmp_path}/srv"
    monkeypatch.setenv("KAKUNIN_STORAGE", "s3://acme-data/kakunin/prod/")
    monkeypatch.setenv("KAKUNIN_S3_ZONE_BUCKETS", '{"lineage": "acme-lineage", "audit": "acme-audit"}')
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    store = open_store()
    assert isinstance(store, S3Store)
    assert store.describe() == "s3://acme-data/kakunin/prod"
    assert store.locate("audit/log/000001.json") == ("acme-audit", "kakunin/prod/audit/log/000001.json")


@pytest.mark.parametrize(
    ("url", "zones", "message"),
    [
        pytest.param("ftp://host/x", "", "is not a store URL", id="scheme"),
        pytest.param("s3://", "", "needs a bucket", id="no-bucket"),
        pytest.param("s3://Bad_Bucket/x", "", "not a valid S3 bucket name", id="bad-bucket"),
        pytest.param("s3://b-ok/a//b", "", "empty, '.' or '..' part", id="bad-prefix"),
        pytest.param("file://relative/path", "", "absolute path", id="relative-file"),
        pytest.param("s3://b-ok/x", "{lineage: b}", "KAKUNIN_S3_ZONE_BUCKETS is not JSON", id="zones-not-json"),
        pytest.param("s3://b-ok/x", '{"lineages": "b-x"}', "unknown zone", id="zones-unknown"),
    ],
)
def test_a_bad_storage_setting_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, url: str, zones: str, message: str
) -> None:
    monkeypatch.setenv("KAKUNIN_STORAGE", url)
    monkeypatch.setenv("KAKUNIN_S3_ZONE_BUCKETS", zones)
    with pytest.raises(ConfigError, match=message):
        open_store()


def test_the_cli_refuses_a_bad_storage_url_without_a_traceback(kakunin: Any) -> None:
    run: Run = kakunin("batches", env={"KAKUNIN_STORAGE": "s3:/missing-slash"})
    assert run.code != 0
    assert "KAKUNIN_STORAGE" in run.stdout + run.stderr
    assert "Traceback" not in run.stderr


def test_the_cli_reaches_s3_through_the_standard_aws_environment(kakunin: Any, s3_endpoint: S3Server) -> None:
    store = s3_store(s3_endpoint)
    env = {
        **CREDENTIALS,
        "AWS_ENDPOINT_URL": s3_endpoint.endpoint,
        "KAKUNIN_STORAGE": f"s3://{S3_BUCKET}/{store.location.prefix}",
    }
    run: Run = kakunin("batches", "--json", env=env)
    assert run.code == 0, run.stderr
    assert run.json() == []

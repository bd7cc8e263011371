"""Amazon S3 (or MinIO, or any S3 endpoint) as an object store, through boto3.

Every put sends the object's SHA-256 (`ChecksumAlgorithm='SHA256'`): the server refuses a
body that does not match it, and the checksum it echoes is compared with ours, so every
write is checked. The digest also goes into the `sha256` user metadata, so `sha256(key)`
answers from a HEAD request even for multipart objects (whose S3 checksum is a
checksum of part checksums). Large files go up as multipart uploads; an upload whose
writer dies stays invisible (`partial_writes`) until `sweep_partial_writes` aborts it.

Not atomic, unlike `LocalStore`: `rename` is a copy and then a delete of every version of
the source. Publication therefore never depends on a rename: the commit record, written
after the data, is the switch readers follow.

Object Lock (the lineage and audit zones are write-once) is `kakunin.storage.s3_lock`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from kakunin.errors import StorageError, StorageNotFound
from kakunin.hashing import sha256_bytes, sha256_file
from kakunin.scratch import scratch_dir
from kakunin.storage.arrow_s3 import ArrowS3Access, access_of, arrow_filesystem
from kakunin.storage.base import PartialWrite, check_key
from kakunin.storage.config import S3Location
from kakunin.storage.local import STALE_AFTER_SECONDS
from kakunin.storage.s3_lock import ObjectLocks, error_code

MULTIPART_THRESHOLD = 64 * 1024 * 1024  # below this, one PUT whose SHA-256 the server checks whole
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_ALREADY_THERE = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


def default_client() -> Any:
    """An S3 client from the standard AWS environment (`AWS_ENDPOINT_URL` for MinIO or a local endpoint),
    retrying throttled and failed requests with adaptive backoff."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "adaptive", "max_attempts": 8},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.client("s3", config=config)


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def composite_sha256(source: Path, part_size: int) -> str:
    """S3's checksum of a multipart object: the SHA-256 of its parts' SHA-256 digests, base64."""
    digests = b""
    with source.open("rb") as handle:
        while chunk := handle.read(part_size):
            digests += bytes.fromhex(sha256_bytes(chunk))
    return _b64(bytes.fromhex(sha256_bytes(digests)))


class S3Store(ObjectLocks):
    """Objects under `s3://bucket/prefix/`; zones named in `location.zone_buckets` live in their own buckets."""

    def __init__(
        self, location: S3Location, client: Any | None = None, *, stale_after: float = STALE_AFTER_SECONDS
    ) -> None:
        self.location = location
        self.client = client if client is not None else default_client()
        self.stale_after = stale_after  # an upload this old is abandoned; a younger one may be a live writer's
        self._arrow: tuple[ArrowS3Access, Any] | None = None
        self._lock_enabled: dict[str, bool] = {}  # bucket → has Object Lock (asked once)
        self._warned: set[str] = set()  # buckets without Object Lock already warned of

    # ── where keys go ──────────────────────────────────────────────────────────────

    def describe(self) -> str:
        return f"s3://{self.location.bucket}/{self.location.prefix}".rstrip("/")

    def locate(self, key: str) -> tuple[str, str]:
        """The bucket and S3 object key of a store key."""
        check_key(key)
        bucket = self.location.zone_buckets.get(key.split("/", 1)[0], self.location.bucket)
        return bucket, f"{self.location.prefix}/{key}" if self.location.prefix else key

    def _store_key(self, s3_key: str) -> str:
        return s3_key[len(self.location.prefix) + 1 :] if self.location.prefix else s3_key

    def buckets(self) -> list[str]:
        """Every bucket this store writes to."""
        return sorted({self.location.bucket, *self.location.zone_buckets.values()})

    def dataset_location(self, key: str) -> tuple[str, str]:
        """OpenLineage (namespace, name) of a key: `s3://bucket` and the object key."""
        bucket, s3_key = self.locate(key)
        return f"s3://{bucket}", s3_key

    # ── writes ─────────────────────────────────────────────────────────────────────

    def _write_args(self, sha256_hex: str) -> dict[str, Any]:
        args: dict[str, Any] = {"ChecksumAlgorithm": "SHA256", "Metadata": {"sha256": sha256_hex}}
        if self.location.kms_key_id:
            args |= {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.location.kms_key_id}
        else:
            args["ServerSideEncryption"] = "AES256"
        return args

    def _put(self, key: str, data: bytes, **extra: Any) -> None:
        bucket, s3_key = self.locate(key)
        digest = bytes.fromhex(sha256_bytes(data))
        try:
            answer = self.client.put_object(
                Bucket=bucket,
                Key=s3_key,
                Body=data,
                ChecksumSHA256=_b64(digest),
                **self._write_args(digest.hex()),
                **self.write_lock_args(key),
                **extra,
            )
        except Exception as exc:
            if error_code(exc) in _ALREADY_THERE and extra:
                raise FileExistsError(key) from exc
            raise StorageError(f"cannot write {key} to {self.describe()}: {exc}") from exc
        if answer.get("ChecksumSHA256") not in (None, _b64(digest)):
            raise StorageError(f"{key}: the server stored a different SHA-256 than was sent")

    def put_bytes(self, key: str, data: bytes) -> None:
        self._put(key, data)

    def put_bytes_if_absent(self, key: str, data: bytes) -> bool:
        """A conditional write (`If-None-Match: *`): S3 refuses it when any object exists at the key."""
        try:
            self._put(key, data, IfNoneMatch="*")
        except FileExistsError:
            return False
        return True

    def put_file(self, key: str, source: Path) -> None:
        try:
            size = source.stat().st_size
            if size < MULTIPART_THRESHOLD:
                self._put(key, source.read_bytes())
                return
            sha = sha256_file(source)
        except OSError as exc:
            raise StorageError(f"cannot read {source.name} to upload it as {key}: {exc.strerror}") from exc
        self._upload_multipart(key, source, sha)

    def _upload_multipart(self, key: str, source: Path, sha: str) -> None:
        """A managed multipart upload (each part's SHA-256 checked by the server), then the object's
        checksum of part checksums compared with the one computed here from the file."""
        from boto3.s3.transfer import TransferConfig

        bucket, s3_key = self.locate(key)
        config = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_THRESHOLD)
        try:
            self.client.upload_file(
                str(source), bucket, s3_key, ExtraArgs=self._write_args(sha) | self.write_lock_args(key), Config=config
            )
        except Exception as exc:
            raise StorageError(f"cannot upload {key} to {self.describe()}: {exc}") from exc
        stored = str(self._head(key).get("ChecksumSHA256", "")).partition("-")[0]
        if stored != composite_sha256(source, MULTIPART_THRESHOLD):
            raise StorageError(f"{key}: the uploaded object does not match the file sent (SHA-256 of parts differs)")

    # ── reads ──────────────────────────────────────────────────────────────────────

    @contextmanager
    def _read_errors(self, key: str) -> Iterator[None]:
        """A missing object is `StorageNotFound`; any other failure a `StorageError` naming the key."""
        try:
            yield
        except Exception as exc:
            if error_code(exc) in _NOT_FOUND:
                raise StorageNotFound(f"{key} is not in the store") from exc
            raise StorageError(f"cannot read {key} in {self.describe()}: {exc}") from exc

    def _head(self, key: str) -> dict[str, Any]:
        bucket, s3_key = self.locate(key)
        with self._read_errors(key):
            answer: dict[str, Any] = self.client.head_object(Bucket=bucket, Key=s3_key, ChecksumMode="ENABLED")
        return answer

    def get_bytes(self, key: str) -> bytes:
        bucket, s3_key = self.locate(key)
        with self._read_errors(key):
            body: bytes = self.client.get_object(Bucket=bucket, Key=s3_key)["Body"].read()
        return body

    def exists(self, key: str) -> bool:
        try:
            self._head(key)
        except StorageNotFound:
            return False
        return True

    def sha256(self, key: str) -> str:
        """From the object's own SHA-256 checksum, else the digest we stored beside it, else streamed."""
        head = self._head(key)
        checksum = str(head.get("ChecksumSHA256") or "")
        multipart = "-" in checksum or "-" in str(head.get("ETag", "")) or head.get("ChecksumType") == "COMPOSITE"
        if checksum and not multipart:  # a multipart object's checksum is one of its parts' checksums
            return base64.b64decode(checksum).hex()
        stored = head.get("Metadata", {}).get("sha256")
        if stored:
            return str(stored)
        with self.reading(key) as path:
            return sha256_file(path)

    def list_keys(self, prefix: str) -> Iterator[str]:
        zone = prefix.split("/", 1)[0]
        if prefix.strip("/"):
            check_key(prefix.rstrip("/"))
        buckets = [self.locate(zone or "x")[0]] if zone else self.buckets()
        base = f"{self.location.prefix}/{prefix}" if self.location.prefix else prefix
        found: list[str] = []
        for bucket in buckets:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base)
            for page in pages:
                keys = (self._store_key(item["Key"]) for item in page.get("Contents", []))
                found += [k for k in keys if zone or self.locate(k)[0] == bucket]
        yield from sorted(found)

    @contextmanager
    def reading(self, key: str) -> Iterator[Path]:
        bucket, s3_key = self.locate(key)
        with scratch_dir("s3") as tmp:
            path = Path(tmp, "object")
            with self._read_errors(key):
                self.client.download_file(bucket, s3_key, str(path))
            yield path

    def open_input(self, key: str) -> BinaryIO:
        """A seekable reader on pyarrow's own S3 client (see `storage.arrow_s3`): Parquet is read by ranges."""
        self._head(key)  # a missing key is StorageNotFound, as on every store
        bucket, s3_key = self.locate(key)
        with self._read_errors(key):
            handle: BinaryIO = self._arrow_fs().open_input_file(f"{bucket}/{s3_key}")
        return handle

    def _arrow_fs(self) -> Any:
        """pyarrow's S3 filesystem on this client's endpoint and credentials, rebuilt when they change."""
        access = access_of(self.client)
        if self._arrow is None or self._arrow[0] != access:
            self._arrow = (access, arrow_filesystem(access))
        return self._arrow[1]

    @contextmanager
    def writing(self, key: str) -> Iterator[Path]:
        self.locate(key)
        with scratch_dir("s3") as tmp:
            path = Path(tmp, "object")
            path.touch()
            yield path
            self.put_file(key, path)

    # ── deletes and moves ──────────────────────────────────────────────────────────

    def versions(self, key: str) -> list[dict[str, str]]:
        """Every version and delete marker of `key`, as `{"Key", "VersionId"}` pairs."""
        bucket, s3_key = self.locate(key)
        found = []
        for page in self.client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=s3_key):
            for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                if item["Key"] == s3_key:
                    found.append({"Key": s3_key, "VersionId": str(item.get("VersionId") or "null")})
        return found

    def delete(self, key: str) -> list[str]:
        """Remove every version and delete marker of `key` (a plain DELETE would only hide it); returns
        the version ids removed."""
        found = self.versions(key)
        if not found:
            raise StorageNotFound(f"{key} is not in the store")
        return self._delete_versions(key, found)

    def prune_versions(self, key: str) -> list[str]:
        """Delete every noncurrent version and delete marker of `key`, keeping the current object."""
        current = self._head(key).get("VersionId")
        old = [v for v in self.versions(key) if v["VersionId"] != str(current or "null")]
        return self._delete_versions(key, old) if old else []

    def _delete_versions(self, key: str, found: list[dict[str, str]]) -> list[str]:
        bucket, _ = self.locate(key)
        for start in range(0, len(found), 1000):
            chunk = found[start : start + 1000]
            answer = self.client.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
            if answer.get("Errors"):
                first = answer["Errors"][0]
                version = str(first.get("VersionId") or chunk[0]["VersionId"])
                raise self.refused_delete(key, version, str(first.get("Message")))
        return [v["VersionId"] for v in found]

    def rename(self, source: str, target: str) -> None:
        """Copy, then delete every version of the source. NOT atomic: a crash in between leaves both."""
        src_bucket, src_key = self.locate(source)
        bucket, s3_key = self.locate(target)
        sha = self.sha256(source)
        try:
            self.client.copy(
                {"Bucket": src_bucket, "Key": src_key},
                bucket,
                s3_key,
                ExtraArgs=self._write_args(sha) | {"MetadataDirective": "REPLACE"},
            )
        except Exception as exc:
            raise StorageError(f"cannot copy {source} to {target}: {exc}") from exc
        if self.sha256(target) != sha:
            raise StorageError(f"{target}: the copy of {source} differs from it")
        self.delete(source)

    def tidy(self, prefix: str) -> None:
        """Nothing to tidy: S3 has no empty folders."""

    # ── writes that never finished ─────────────────────────────────────────────────

    def partial_writes(self) -> list[PartialWrite]:
        """Incomplete multipart uploads under this store's prefix, in every bucket it uses, started more
        than `stale_after` seconds ago (S3 cannot tell a dead writer's upload from a live one's)."""
        found = []
        now = datetime.now(UTC)
        for bucket in self.buckets():
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=bucket, Prefix=self.location.prefix
            )
            for page in pages:
                for upload in page.get("Uploads", []):
                    if (now - upload["Initiated"]).total_seconds() < self.stale_after:
                        continue
                    name = f"s3://{bucket}/{upload['Key']}#{upload['UploadId']}"
                    size = self._uploaded_bytes(bucket, upload["Key"], upload["UploadId"])
                    found.append(
                        PartialWrite(name=name, bytes=size, age_seconds=(now - upload["Initiated"]).total_seconds())
                    )
        return found

    def _uploaded_bytes(self, bucket: str, key: str, upload_id: str) -> int:
        pages = self.client.get_paginator("list_parts").paginate(Bucket=bucket, Key=key, UploadId=upload_id)
        return sum(int(part["Size"]) for page in pages for part in page.get("Parts", []))

    def sweep_partial_writes(self) -> list[PartialWrite]:
        """Abort every incomplete multipart upload (their parts are deleted with them)."""
        removed = []
        for partial in self.partial_writes():
            where, _, upload_id = partial.name.removeprefix("s3://").partition("#")
            bucket, _, key = where.partition("/")
            self.client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            removed.append(partial)
        return removed

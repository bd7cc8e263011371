"""pyarrow's own S3 client, built from the boto3 client an `S3Store` already uses.

Why: pyarrow reads a Python file object (a reader that calls boto3) from its C++ I/O threads.
Its dataset reader (`pq.read_table(..., filters=...)`) can leave such a read queued when the
process exits, and the process then aborts ("terminate called without an active exception",
exit -6) after it has printed its answer: 4 runs in 40 did against moto's server. pyarrow's
native `S3FileSystem` has no Python in its I/O path (40 in 40 clean), and still reads Parquet
by ranges.

One rule for the three places a client comes from (the standard AWS environment in the CLI,
an Airflow connection in DAGs, a test endpoint): take the endpoint, the region and the
credentials from that client, so both libraries always talk to the same place as the same
principal. The credentials come through `client._get_credentials()`, which botocore marks
private; a test reads a real object through it, so a botocore that drops it fails loudly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from kakunin.errors import StorageError

MAX_ATTEMPTS = 8  # as botocore's adaptive retries in `default_client`


@dataclass(frozen=True)
class ArrowS3Access:
    """What pyarrow needs to reach the same endpoint as the same principal as a boto3 client."""

    access_key: str | None
    secret_key: str | None
    session_token: str | None
    region: str | None
    endpoint_override: str | None  # host[:port]; None for AWS's own endpoints
    scheme: str


def access_of(client: Any) -> ArrowS3Access:
    """The endpoint, region and current credentials of a boto3 S3 client."""
    endpoint = urlsplit(str(client.meta.endpoint_url))
    host = endpoint.netloc
    aws_endpoint = endpoint.hostname is not None and endpoint.hostname.endswith(".amazonaws.com")
    getter = getattr(client, "_get_credentials", None)
    credentials = getter() if callable(getter) else None
    frozen = credentials.get_frozen_credentials() if credentials is not None else None
    return ArrowS3Access(
        access_key=frozen.access_key if frozen else None,
        secret_key=frozen.secret_key if frozen else None,
        session_token=frozen.token if frozen else None,
        region=client.meta.region_name,
        endpoint_override=None if aws_endpoint else host,
        scheme=endpoint.scheme or "https",
    )


def arrow_filesystem(access: ArrowS3Access) -> Any:
    """A `pyarrow.fs.S3FileSystem` for `access` (anonymous when the client had no credentials)."""
    from pyarrow import fs

    try:
        return fs.S3FileSystem(
            access_key=access.access_key,
            secret_key=access.secret_key,
            session_token=access.session_token,
            anonymous=access.access_key is None,
            region=access.region,
            endpoint_override=access.endpoint_override,
            scheme=access.scheme,
            retry_strategy=fs.AwsStandardS3RetryStrategy(max_attempts=MAX_ATTEMPTS),
        )
    except Exception as exc:  # pyarrow raises plain ArrowInvalid/OSError for a bad setting
        raise StorageError(
            f"cannot set up pyarrow's S3 reader for {access.scheme}://{access.endpoint_override}: {exc}"
        ) from exc

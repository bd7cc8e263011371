"""The store a DAG task works on: S3 through an Airflow AWS connection, else `kakunin.storage.open_store()`.

Why here: on a worker the S3 credentials and endpoint belong to Airflow (a connection the
operators manage, with its `endpoint_url` for MinIO or a loopback endpoint), not to the
worker's environment. So when `KAKUNIN_STORAGE` is an `s3://bucket/prefix` URL, this module
builds the boto3 client from the connection named by `KAKUNIN_AWS_CONN_ID` (default
`aws_default`) through the Amazon provider and hands that ready client to the core's
`S3Store`; the core never imports Airflow. Any other setting (a `file://` URL, `KAKUNIN_HOME`,
nothing) is the core's own choice, `open_store()`.

Every DAG task gets its store from `task_store()`; nothing in `dags/` calls `open_store()`.
"""

from __future__ import annotations

import os
from typing import Any

from kakunin.errors import ConfigError
from kakunin.storage import ObjectStore, open_store

STORAGE_ENV = "KAKUNIN_STORAGE"
CONN_ID_ENV = "KAKUNIN_AWS_CONN_ID"
DEFAULT_CONN_ID = "aws_default"


def is_s3_url(url: str | None) -> bool:
    """Whether `url` names an S3 store (only those need an Airflow connection)."""
    return bool(url) and str(url).strip().lower().startswith("s3://")


def aws_conn_id() -> str:
    """The Airflow AWS connection for the S3 store: `KAKUNIN_AWS_CONN_ID`, else `aws_default`."""
    return os.environ.get(CONN_ID_ENV, "").strip() or DEFAULT_CONN_ID


def s3_client(conn_id: str) -> Any:
    """A boto3 S3 client from the Airflow connection `conn_id` (its credentials, region and `endpoint_url`)."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    return AwsBaseHook(aws_conn_id=conn_id, client_type="s3").get_client_type()  # its first argument is a region


def s3_store(url: str, client: Any) -> ObjectStore:
    """The core's `S3Store` at `url`, on the ready `client` (imported lazily: it is optional in this build)."""
    try:
        from kakunin.storage.config import parse_storage_url  # type: ignore[import-not-found,unused-ignore]
        from kakunin.storage.s3 import S3Store  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise ConfigError(f"{STORAGE_ENV}={url!r}: this Kakunin build has no S3 store (kakunin.storage.s3)") from exc
    store: ObjectStore = S3Store(parse_storage_url(url), client=client)
    return store


def task_store(*, conn_id: str | None = None) -> ObjectStore:
    """The store for this task: S3 on the Airflow connection when `KAKUNIN_STORAGE` is `s3://...`, else local."""
    url = os.environ.get(STORAGE_ENV, "")
    if not is_s3_url(url):
        return open_store()
    return s3_store(url.strip(), s3_client(conn_id or aws_conn_id()))

"""kakunin_airflow.store: the DAG tasks' store, local by default, S3 through an Airflow AWS connection."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from kakunin.storage import LocalStore
from kakunin_airflow import store as dag_store
from tests.conftest import REPO


@pytest.mark.parametrize(
    ("url", "is_s3"),
    [
        pytest.param("s3://bucket/prefix", True, id="s3"),
        pytest.param("  S3://bucket", True, id="upper-case-and-spaces"),
        pytest.param("file:///srv/kakunin", False, id="file"),
        pytest.param("", False, id="empty"),
        pytest.param(None, False, id="unset"),
        pytest.param("/srv/s3://x", False, id="s3-not-at-start"),
    ],
)
def test_is_s3_url(url: str | None, is_s3: bool) -> None:
    assert dag_store.is_s3_url(url) is is_s3


def test_without_an_s3_url_the_task_store_is_the_local_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KAKUNIN_STORAGE", raising=False)
    monkeypatch.setenv("KAKUNIN_HOME", str(tmp_path))
    found = dag_store.task_store()
    assert isinstance(found, LocalStore)
    assert found.root == tmp_path


def test_the_connection_id_defaults_to_aws_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAKUNIN_AWS_CONN_ID", raising=False)
    assert dag_store.aws_conn_id() == "aws_default"
    monkeypatch.setenv("KAKUNIN_AWS_CONN_ID", "s3_kakunin")
    assert dag_store.aws_conn_id() == "s3_kakunin"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's standalone S3 server on a free loopback port, as a subprocess (driven over HTTP only)."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()  # noqa: S310 -- loopback
                break
            except OSError:
                time.sleep(0.25)
        else:
            pytest.fail("moto's S3 server did not start")
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


PUT_THROUGH_THE_CONNECTION = """
import sys
from kakunin_airflow.store import s3_client
client = s3_client(sys.argv[1])
client.create_bucket(Bucket="kakunin-store-test")
client.put_object(Bucket="kakunin-store-test", Key="lineage/x.json", Body=b"{}")
"""


def test_the_s3_client_comes_from_the_airflow_connection_and_its_endpoint_url(tmp_path: Path, s3_endpoint: str) -> None:
    """In its own process: importing Airflow here would fix its settings before test_dag configures them."""
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AIRFLOW"))}
    env |= {"AIRFLOW_HOME": str(tmp_path), "AIRFLOW_CONN_KAKUNIN_TEST_S3": json.dumps(connection)}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "dags"), str(REPO / "plugins")])
    done = subprocess.run(
        [sys.executable, "-c", PUT_THROUGH_THE_CONNECTION, "kakunin_test_s3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # the object is on the loopback endpoint: a client made without the connection finds it there
    direct = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="t",
        aws_secret_access_key="t",  # noqa: S106 -- moto
    )
    assert direct.get_object(Bucket="kakunin-store-test", Key="lineage/x.json")["Body"].read() == b"{}"

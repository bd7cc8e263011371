"""A real S3 endpoint for tests and `make run-s3`: moto's standalone server on a free loopback port.

Driven only over HTTP (never moto's in-process mocking). Usable as a module too:
`python tests/s3server.py --bucket kakunin` starts one, creates the (versioned, Object Lock) bucket,
prints `AWS_ENDPOINT_URL=http://127.0.0.1:<port>` and serves until terminated.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def recording_path(port: int) -> Path:
    """Where the server on `port` keeps moto's request recording (out of the working folder)."""
    return Path(tempfile.gettempdir(), f"kakunin-moto-{port}.recording")


@dataclass
class S3Server:
    """A running moto server process and its endpoint URL."""

    process: subprocess.Popen[bytes]
    endpoint: str

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(request_checksum_calculation="when_required", response_checksum_validation="when_required")
        keys = {
            "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        }
        return boto3.client("s3", endpoint_url=self.endpoint, config=config, region_name="us-east-1", **keys)

    def make_bucket(self, name: str, *, object_lock: bool = True) -> None:
        """Create `name` (if new) with versioning and Object Lock on, as `kakunin infra bootstrap` would
        (`object_lock=False`: a versioned bucket without it, to show what the store says then)."""
        client = self.client()
        if name not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
            client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=object_lock)
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        if object_lock:
            client.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})

    def recording(self) -> Path:
        """Where moto's request recorder writes (a test turns it on; `stop` removes the file)."""
        return recording_path(int(self.endpoint.rsplit(":", 1)[1]))

    def stop(self) -> None:
        self.recording().unlink(missing_ok=True)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(log: Path | None = None) -> S3Server:
    """Start moto's server on 127.0.0.1 and wait until it answers; `RuntimeError` if it never does."""
    port = free_port()
    moto = Path(sys.executable).with_name("moto_server")
    out = log.open("wb") if log is not None else subprocess.DEVNULL
    # moto's request recorder (used by a test) writes to its working folder unless told where
    env = {**os.environ, "MOTO_RECORDER_FILEPATH": str(recording_path(port))}
    process = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT, env=env
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode}")
        try:
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            probe.request("GET", "/moto-api/")
            probe.getresponse().read()
            probe.close()
            return S3Server(process, endpoint)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("moto_server did not answer within 30 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--bucket", action="append", default=[], help="a versioned bucket with Object Lock to create (repeatable)"
    )
    parser.add_argument("--env-file", type=Path, help="write the AWS_* settings to this file as well")
    parser.add_argument("--log", type=Path, help="moto_server's output goes here")
    args = parser.parse_args()
    server = start(args.log)
    for bucket in args.bucket:
        os.environ.update(CREDENTIALS)
        server.make_bucket(bucket)
    settings = {**CREDENTIALS, "AWS_ENDPOINT_URL": server.endpoint}
    lines = "".join(f"{k}={v}\n" for k, v in settings.items())
    if args.env_file is not None:
        args.env_file.write_text(lines)
    print(lines, end="", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)  # stopping happens below, never inside the handler
    try:
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM as Ctrl-C: a handler that waited on the server itself would deadlock the outer `wait`."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()

"""The processes of the cluster test, each in its own process group, stopped together whatever happens.

Why groups: Airflow's components, Celery and PostgreSQL fork children of their own; stopping
only the process we started would leave those running. Every service is started with
`start_new_session=True` and stopped by signalling its whole group (its own stop signal
first, then SIGKILL after a grace period), in the reverse order of starting.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

GRACE_SECONDS = 15.0


class ClusterError(Exception):
    """The cluster test could not start a service, or a check failed; the message says which and why."""


@dataclass
class Service:
    """One started process (and its group): its name, log file and the signal that stops it cleanly."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    stop_signal: signal.Signals = signal.SIGTERM

    def log_tail(self, lines: int = 25) -> str:
        """The end of the service's log, for an error message."""
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


class Supervisor:
    """Starts services into `logs/`, checks they are still alive, and stops every one of them exactly once."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.services: list[Service] = []
        self.cleanup: list[Path] = []  # folders removed once every service is stopped

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> Service:
        """Start `argv` in a new session (its own process group), output to `logs/<name>.log`."""
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(  # noqa: S603 -- argv built by the harness itself
                list(argv), stdout=out, stderr=subprocess.STDOUT, env=dict(env), start_new_session=True
            )
        service = Service(name=name, process=process, log=log, stop_signal=stop_signal)
        self.services.append(service)
        return service

    def check_alive(self) -> None:
        """Raise `ClusterError` (with the end of its log) if a service has exited."""
        for service in self.services:
            code = service.process.poll()
            if code is not None:
                raise ClusterError(
                    f"{service.name} exited with code {code}; end of {service.log}:\n{service.log_tail()}"
                )

    def wait_for(self, what: str, ready: Callable[[], bool], *, timeout: float, every: float = 1.0) -> None:
        """Poll `ready()` until it is true; fail when `timeout` passes or a service dies meanwhile."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if ready():
                return
            time.sleep(every)
        raise ClusterError(f"timed out after {timeout:.0f} s waiting for {what}")

    def stop_all(self) -> None:
        """Stop every service, newest first: its stop signal to the group, then SIGKILL after the grace period."""
        while self.services:
            service = self.services.pop()
            _stop_group(service)
        while self.cleanup:
            shutil.rmtree(self.cleanup.pop(), ignore_errors=True)


def _signal_group(pid: int, sig: signal.Signals) -> bool:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return False
    return True


def _stop_group(service: Service) -> None:
    pid = service.process.pid
    if not _signal_group(pid, service.stop_signal):
        service.process.poll()
        return
    deadline = time.monotonic() + GRACE_SECONDS
    while time.monotonic() < deadline:
        if service.process.poll() is not None and not _group_alive(pid):
            return
        time.sleep(0.2)
    _signal_group(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        service.process.wait(timeout=5)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the service binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run(argv: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None, what: str) -> None:
    """Run a setup command to completion, output to `log`; `ClusterError` with the log's end if it fails."""
    with log.open("ab") as out:
        code = subprocess.call(list(argv), stdout=out, stderr=subprocess.STDOUT, env=dict(env or os.environ))  # noqa: S603
    if code != 0:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-25:])
        raise ClusterError(f"{what} failed with code {code}; end of {log}:\n{tail}")


def apt_install(package: str, *, log: Path) -> None:
    """Install a Debian package (only called when it is missing); needs root and apt-get."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ClusterError(f"{package} is not installed and this user cannot apt-get it; install {package} first")
    print(f"cluster: installing the Debian package {package} (apt-get) ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update"], log=log, env=env, what="apt-get update")
    run(
        ["apt-get", "install", "-y", "--no-install-recommends", package], log=log, env=env, what=f"installing {package}"
    )


def redis_answers(port: int) -> bool:
    """Whether a Redis server on 127.0.0.1:`port` answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False

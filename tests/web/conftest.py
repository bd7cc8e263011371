"""The web app as users meet it: served by a real `airflow api-server` with the Kakunin plugin.

One server per test session (it takes ~20 s to start): the simple auth manager with one user
per role plus one with no Kakunin role and an Airflow admin, known passwords, a fresh store.
Tests log in through Airflow's own `/auth/token` (the same JWT the login page sets as the
`_token` cookie), so what is tested is Airflow's authentication, not a stand-in.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
# user -> (Airflow role of the simple auth manager, password). Kakunin roles come from expectations/web-roles.yaml.
USERS = {
    "acq-01": ("user", "pw-acq-01"),
    "acq-02": ("user", "pw-acq-02"),
    "audit-01": ("viewer", "pw-audit-01"),
    "eng-01": ("op", "pw-eng-01"),
    "outsider": ("viewer", "pw-outsider"),
    "admin": ("admin", "pw-admin"),
}
MAX_UPLOAD_MB = 2  # small, so the limit test sends little


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class AirflowWeb:
    """A running API server with the plugin, and how to talk to it as each user."""

    base: str  # http://127.0.0.1:PORT
    home: Path  # AIRFLOW_HOME
    store: Path  # KAKUNIN_HOME of the server
    env: dict[str, str]  # the server's environment (for `kakunin` or `airflow` commands on the same store)
    log: Path
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def app(self) -> str:
        return f"{self.base}/kakunin"

    def token(self, user: str) -> str:
        """A JWT for `user` from Airflow's `/auth/token` (what the login page sets as the `_token` cookie)."""
        if user not in self._tokens:
            answer = httpx.post(
                f"{self.base}/auth/token", json={"username": user, "password": USERS[user][1]}, timeout=30
            )
            answer.raise_for_status()
            self._tokens[user] = answer.json()["access_token"]
        return self._tokens[user]

    def client(self, user: str | None = None, *, cookie: bool = False) -> httpx.Client:
        """A client as `user` (None: anonymous): a bearer token, or with `cookie` the browser's `_token` cookie."""
        headers: dict[str, str] = {}
        cookies: dict[str, str] = {}
        if user is not None and cookie:
            cookies["_token"] = self.token(user)
        elif user is not None:
            headers["Authorization"] = f"Bearer {self.token(user)}"
        return httpx.Client(base_url=self.app, headers=headers, cookies=cookies, timeout=120, follow_redirects=False)

    def csrf(self, client: httpx.Client) -> str:
        """The CSRF token a page gives a cookie-authenticated client (its `<meta name="csrf-token">`)."""
        page = client.get("/")
        page.raise_for_status()
        found = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', page.text)
        assert found, "the page carries no CSRF token"
        return found.group(1)


def _airflow(env: dict[str, str], *args: str, timeout: int = 300) -> None:
    airflow = Path(sys.executable).with_name("airflow")
    done = subprocess.run([str(airflow), *args], env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"airflow {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


@pytest.fixture(scope="session")
def airflow_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowWeb]:
    """`airflow api-server` on a free loopback port, with the plugin, the users above and a fresh store."""
    root = tmp_path_factory.mktemp("web")
    home, store = root / "airflow", root / "store"
    home.mkdir()
    store.mkdir()
    passwords = root / "passwords.json"
    passwords.write_text(json.dumps({user: password for user, (_, password) in USERS.items()}))
    port = _free_port()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{role}" for u, (role, _) in USERS.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "KAKUNIN_HOME": str(store),
        "KAKUNIN_HMAC_KEY": secrets.token_hex(32),
        "KAKUNIN_WEB_MAX_UPLOAD_MB": str(MAX_UPLOAD_MB),
    }
    env.pop("KAKUNIN_STORAGE", None)
    env.pop("KAKUNIN_ACTOR", None)
    _airflow(env, "db", "migrate")
    _airflow(env, "dags", "reserialize")  # so the app can trigger kakunin_intake
    log = root / "api-server.log"
    airflow = Path(sys.executable).with_name("airflow")
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(airflow), "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    web = AirflowWeb(base=f"http://127.0.0.1:{port}", home=home, store=store, env=env, log=log)
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"airflow api-server exited {server.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{web.base}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"airflow api-server did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        if "Failed to import plugin" in log.read_text():
            raise RuntimeError(f"the Kakunin plugin failed to load:\n{log.read_text()[-3000:]}")
        yield web
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()

"""`make serve`'s development users: one per Kakunin role, random passwords written once.

    python -m kakunin_dev.serve users PASSWORDS_JSON   # prints AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS
    python -m kakunin_dev.serve show PASSWORDS_JSON URL  # prints who may log in, their role and password

The passwords file is Airflow's simple auth manager file (AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE);
written once with mode 0600 and kept, so a restart keeps everyone's password. Kakunin's roles come from
expectations/web-roles.yaml (these names are in it); the Airflow role only decides what Airflow's own UI allows.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path

# user -> (Airflow role in the simple auth manager, the Kakunin role web-roles.yaml gives them)
USERS: dict[str, tuple[str, str]] = {
    "acq-01": ("user", "acquisition"),
    "acq-02": ("user", "acquisition"),
    "audit-01": ("viewer", "auditor"),
    "eng-01": ("op", "engineer"),
    "admin": ("admin", "engineer (by the Airflow role admin)"),
}


def passwords(path: Path) -> dict[str, str]:
    """The users' passwords: read from `path`, with a random one added (and saved) for each user it lacks."""
    known: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
    missing = [user for user in USERS if not known.get(user)]
    if missing:
        known.update({user: secrets.token_urlsafe(12) for user in missing})
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(known, out, indent=2)
    return known


def users_setting() -> str:
    """AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS: `name:role` for each user."""
    return ",".join(f"{user}:{role}" for user, (role, _) in USERS.items())


def show(path: Path, url: str) -> str:
    """What `make serve` prints once Airflow is up: where to go and who may log in."""
    known = passwords(path)
    lines = [f"Kakunin: {url}kakunin/   (Airflow's UI: {url}; the API's docs: {url}kakunin/docs)", ""]
    lines.append(f"  {'user':<10} {'Kakunin role':<38} password")
    lines += [f"  {user:<10} {kakunin:<38} {known[user]}" for user, (_, kakunin) in USERS.items()]
    lines += ["", f"(passwords kept in {path}; delete it for new ones)"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 2 and args[0] == "users":
        passwords(Path(args[1]))
        print(users_setting())
        return 0
    if len(args) == 3 and args[0] == "show":
        print(show(Path(args[1]), args[2]))
        return 0
    print("usage: python -m kakunin_dev.serve users PASSWORDS_JSON | show PASSWORDS_JSON URL", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

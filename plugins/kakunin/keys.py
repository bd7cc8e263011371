"""The HMAC key for record and subject digests: from the environment only, never from code or the store.

`KAKUNIN_HMAC_KEY` holds 64 hex characters (32 bytes) or any text of at least 32 bytes.
A DAG may read it from an Airflow Variable or connection instead and pass it in.
"""

from __future__ import annotations

import os
import re

from kakunin.errors import ConfigError

ENV_VAR = "KAKUNIN_HMAC_KEY"
MIN_BYTES = 32


def parse_hmac_key(value: str) -> bytes:
    """Key bytes from its configured text; `ConfigError` if too short to be a real key."""
    text = value.strip()
    key = bytes.fromhex(text) if re.fullmatch(r"(?:[0-9a-fA-F]{2}){32,}", text) else text.encode()
    if len(key) < MIN_BYTES:
        raise ConfigError(f"{ENV_VAR} is too short: it needs at least {MIN_BYTES} bytes (64 hex characters)")
    return key


def hmac_key_from_env() -> bytes:
    """The key from `KAKUNIN_HMAC_KEY`; a clear `ConfigError` when it is not set."""
    value = os.environ.get(ENV_VAR)
    if not value:
        raise ConfigError(
            f"{ENV_VAR} is not set: record and subject digests need a secret key held outside the store "
            "(e.g. `export KAKUNIN_HMAC_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')`)"
        )
    return parse_hmac_key(value)


def hmac_key_if_set() -> bytes | None:
    """The key when `KAKUNIN_HMAC_KEY` is set (a bad value is still a `ConfigError`), else None.

    For writers that seal what they write when they can (`kakunin.lineage.seal`) and still
    work without the key: retention, holds, an auditor's trace.
    """
    value = os.environ.get(ENV_VAR)
    return parse_hmac_key(value) if value else None

"""Ed25519 keys for signing lineage checkpoints: from the environment or a file, never from the store.

The signing key is not the HMAC key: the HMAC key digests records (and anyone verifying
records needs it); the signing key only vouches for checkpoints, and its public half is
what an auditor keeps. Keys are written as hex: the private key is the 32-byte Ed25519
seed (64 hex characters), the public key the raw 32 bytes (64 hex characters).
"""

from __future__ import annotations

import os
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from kakunin.errors import ConfigError
from kakunin.hashing import sha256_bytes

SIGNING_ENV = "KAKUNIN_SIGNING_KEY"
VERIFY_ENV = "KAKUNIN_VERIFY_KEY"
_HEX32 = re.compile(r"[0-9a-fA-F]{64}")


def _key_bytes(text: str, what: str) -> bytes:
    value = text.strip()
    if not _HEX32.fullmatch(value):
        raise ConfigError(f"{what} must be 64 hex characters (32 bytes), got {len(value)} character(s)")
    return bytes.fromhex(value)


def parse_signing_key(text: str, what: str = SIGNING_ENV) -> Ed25519PrivateKey:
    """The private key from its hex seed; `ConfigError` if it is not one."""
    return Ed25519PrivateKey.from_private_bytes(_key_bytes(text, what))


def parse_public_key(text: str, what: str = "the public key") -> Ed25519PublicKey:
    """The public key from its raw hex; `ConfigError` if it is not one."""
    return Ed25519PublicKey.from_public_bytes(_key_bytes(text, what))


def signing_key_from_env() -> Ed25519PrivateKey | None:
    """The key in `KAKUNIN_SIGNING_KEY`, or None when it is not set (callers decide if that is an error)."""
    value = os.environ.get(SIGNING_ENV)
    return parse_signing_key(value) if value else None


def require_signing_key() -> Ed25519PrivateKey:
    """The key in `KAKUNIN_SIGNING_KEY`; a clear `ConfigError` when it is not set."""
    key = signing_key_from_env()
    if key is None:
        raise ConfigError(
            f"{SIGNING_ENV} is not set: checkpoints are signed with an Ed25519 key held outside the store "
            "(make one with `kakunin lineage keygen --public-key-out FILE`)"
        )
    return key


def new_signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_hex(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()).hex()


def public_hex(key: Ed25519PublicKey) -> str:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def public_key_id(key: Ed25519PublicKey) -> str:
    """A short name of the public key (first 16 hex of its SHA-256), so a checkpoint says who signed it."""
    return sha256_bytes(key.public_bytes(Encoding.Raw, PublicFormat.Raw))[:16]


def sign(key: Ed25519PrivateKey, data: bytes) -> str:
    return key.sign(data).hex()


def signature_valid(key: Ed25519PublicKey, data: bytes, signature_hex: str) -> bool:
    """True when `signature_hex` is `key`'s Ed25519 signature of `data`."""
    try:
        key.verify(bytes.fromhex(signature_hex), data)
    except (InvalidSignature, ValueError):
        return False
    return True

"""The keyed seal on chain entries (`kakunin.seal/v1`): what makes a re-hashed store detectable.

Every hash `lineage verify` checks is a plain SHA-256 kept beside what it protects, so a
writer without the key can change a file and re-hash everything up the chain. A seal is
an HMAC-SHA256 over the entry's canonical JSON (`canonical_json`, the `mac` field left out),
under a key derived from `KAKUNIN_HMAC_KEY` for this purpose only. Each entry pins the
entry before it and (transitively) every header, certificate, manifest.parquet and curated
file, so a valid seal on every entry means nothing pinned was changed without the key.

An entry's `mac` is `kakunin.seal/v1:<64 hex>`: the scheme travels with the value, so a
later scheme (`v2`) can be read beside this one. The scheme name is also the derivation
label, so a MAC of one scheme never verifies under another.
"""

from __future__ import annotations

import hmac
from typing import Any

from pydantic import BaseModel

from kakunin.lineage.chain import canonical_json
from kakunin.lineage.digests import Hmac

SEAL_SCHEME = "kakunin.seal/v1"
MAC_FIELD = "mac"


def seal_key(hmac_key: bytes) -> bytes:
    """The MAC key: HMAC-SHA256(hmac_key, scheme), so a seal never equals a record or subject digest."""
    return bytes.fromhex(Hmac(hmac_key).hexdigest(SEAL_SCHEME.encode()))


def mac(entry: dict[str, Any], hmac_key: bytes) -> str:
    """The seal of `entry` (a parsed chain entry; its own `mac` field is not covered)."""
    body = {name: value for name, value in entry.items() if name != MAC_FIELD}
    digest = Hmac(seal_key(hmac_key)).hexdigest(canonical_json(body))
    return f"{SEAL_SCHEME}:{digest}"


def entry_bytes(model: BaseModel, hmac_key: bytes | None) -> bytes:
    """The stored bytes of a chain entry: sealed when a key is at hand, else without a `mac` field at all.

    Leaving the field out (rather than `null`) keeps an unsealed entry byte-identical to one
    written before seals existed.
    """
    payload = model.model_dump(mode="json")
    payload.pop(MAC_FIELD, None)
    if hmac_key is not None:
        payload[MAC_FIELD] = mac(payload, hmac_key)
    return canonical_json(payload)


def check(entry: dict[str, Any], hmac_key: bytes) -> str | None:
    """Why `entry`'s seal does not hold (None when it does); an entry without `mac` is not checked here."""
    value = entry.get(MAC_FIELD)
    if not isinstance(value, str):
        return f"`mac` is not a seal string ({type(value).__name__})"
    scheme, _, _ = value.rpartition(":")
    if scheme != SEAL_SCHEME:
        return f"sealed under an unknown scheme {scheme[:40]!r} (this verify knows {SEAL_SCHEME})"
    if not hmac.compare_digest(value, mac(entry, hmac_key)):
        return "its seal (MAC) does not match: the entry was changed or re-hashed without the key"
    return None

"""Identifier digests: how one person is recognised across providers without keeping what identifies them.

A data subject knows their email, phone number, name and birth date, not a provider's
customer number. Each of these is normalised (so `Taro@Example.jp ` and `taro@example.jp`
are one address, `+81 90-1234-5678` and `090 1234 5678` one number, `ヤマダ タロウ` and
`やまだたろう` one name) and digested with a key derived from `KAKUNIN_HMAC_KEY` for this
use only; the value is then dropped. Only digests go to the subject index (`subjects/`),
the suppression list and the request register.

Digest (scheme `kakunin.subject/v1`): HMAC-SHA256(K, kind ␟ normalised value [␟ birth date]),
K = HMAC-SHA256(KAKUNIN_HMAC_KEY, "kakunin.subject/v1"). The kind is inside the message, so
an email and a phone number can never share a digest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kakunin.contracts import DatasetContract, IdentifierKind
from kakunin.errors import InputError
from kakunin.lineage.digests import NAME_SEPARATOR, Hmac
from kakunin.subjects.formats import INDEX_SCHEMA as INDEX_SCHEMA

SCHEME = "kakunin.subject/v1"
MIN_PHONE_DIGITS = 6  # fewer digits is not a phone number anyone can be found by


_UTF8_LEAD_E3 = 0xE3  # every kana's UTF-8 form starts with this byte, and no continuation byte is ever this


def subject_key(hmac_key: bytes) -> bytes:
    """The key of identifier digests, derived from `KAKUNIN_HMAC_KEY` for this purpose only."""
    return bytes.fromhex(Hmac(hmac_key).hexdigest(SCHEME.encode()))


def normalise_emails(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """NFKC, trimmed, lower-cased; empty or without `@` → null."""
    text = pc.utf8_lower(pc.utf8_trim_whitespace(pc.utf8_normalize(_strings(values), "NFKC")))
    return _null_unless(text, pc.match_substring(text, "@"))


def normalise_phones(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Digits only, with Japan's international forms (`+81`, `0081`, `+81 (0)`) as the domestic `0`.

    `+81 90-1234-5678`, `+81(0)90 1234 5678`, `0081-90-1234-5678` and `090-1234-5678` are one
    number. Other countries keep their `+` and code. Fewer than six digits → null.
    """
    text = pc.utf8_normalize(_strings(values), "NFKC")
    text = pc.replace_substring_regex(text, r"[^0-9+]", "")
    if pc.any(pc.or_(pc.match_substring(text, "+"), pc.starts_with(text, "00"))).as_py():  # else nothing to do
        text = pc.replace_substring_regex(text, r"^(\+|00)810?", "0")
        text = pc.replace_substring_regex(text, r"(?:^\+)|\+", "+")  # a stray inner `+` is noise
        text = pc.replace_substring_regex(text, r"(.)\+", "$1")
    digits = pc.utf8_length(pc.replace_substring(text, "+", ""))
    return _null_unless(text, pc.greater_equal(digits, MIN_PHONE_DIGITS))


def normalise_names(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """NFKC (half-width kana become full-width), no whitespace at all, hiragana as katakana, lower-cased."""
    text = pc.utf8_lower(pc.replace_substring_regex(pc.utf8_normalize(_strings(values), "NFKC"), r"\s+", ""))
    if pc.any(pc.match_substring_regex(text, "[ぁ-ゖ]")).as_py():
        text = hiragana_as_katakana(text)
    return _null_unless(text, pc.greater(pc.utf8_length(text), 0))


def hiragana_as_katakana(text: pa.Array) -> pa.Array:
    """Each hiragana (U+3041..U+3096) as its katakana (+0x60), rewritten in the UTF-8 bytes by NumPy.

    The two forms are three bytes each, so the offsets stay: ぁ..み (E3 81 81..9F) become ァ..ミ (E3 82 A1..BF),
    む..び (E3 81 A0..BF) become ム..ゟ's neighbours (E3 83 80..9F), ぷ..ゖ (E3 82 80..96) become E3 83 A0..B6."""
    validity, offsets, data = text.buffers()
    if data is None:
        return text
    raw = np.frombuffer(data, np.uint8).copy()
    lead = np.flatnonzero(raw[:-2] == _UTF8_LEAD_E3)
    second, third = raw[lead + 1], raw[lead + 2]
    low = lead[(second == 0x81) & (third >= 0x81) & (third <= 0x9F)]
    high = lead[(second == 0x81) & (third >= 0xA0)]
    upper = lead[(second == 0x82) & (third <= 0x96)]
    raw[low + 1], raw[low + 2] = 0x82, raw[low + 2] + 0x20
    raw[high + 1], raw[high + 2] = 0x83, raw[high + 2] - 0x20
    raw[upper + 1], raw[upper + 2] = 0x83, raw[upper + 2] + 0x20
    return pa.Array.from_buffers(
        pa.string(), len(text), [validity, offsets, pa.py_buffer(raw)], null_count=text.null_count, offset=text.offset
    )


@dataclass(frozen=True)
class IdentifierMessages:
    """The text each identifier digest is taken over, per row (null where the row has no such identifier)."""

    kind: IdentifierKind
    messages: pa.Array


def identifier_messages(table: pa.Table | pa.RecordBatch, contract: DatasetContract) -> list[IdentifierMessages]:
    """For each identifier the contract declares, the message of each row (`kind ␟ value [␟ birth date]`)."""
    out = []
    for source in contract.identifiers:
        values = table.column(source.column)
        if source.kind is IdentifierKind.EMAIL:
            normal = normalise_emails(values)
        elif source.kind is IdentifierKind.PHONE:
            normal = normalise_phones(values)
        else:
            normal = normalise_names(values)
        parts = [pa.nulls(len(normal), pa.string()).fill_null(source.kind.value), normal]
        if source.birth_date is not None:
            parts.append(pc.cast(_combined(table.column(source.birth_date)), pa.string()))
        out.append(IdentifierMessages(source.kind, pc.binary_join_element_wise(*parts, NAME_SEPARATOR)))
    return out


def index_rows(
    record_ids: pa.Array, table: pa.Table | pa.RecordBatch, contract: DatasetContract, key: bytes
) -> pa.Table:
    """The subject index rows of these records: (record_id, kind, digest) per identifier a record has.

    `key` is `subject_key(KAKUNIN_HMAC_KEY)`. A record whose identifier is empty has no row for it;
    two columns of one kind (name in kanji and in kana) give two rows when they differ, one when they
    agree. Intake also passes source rows (as text) for `record_ids`, to match rows before they have
    record ids. Rows come identifier by identifier, each in the order of `record_ids`.
    """
    hmac = Hmac(key)
    ids = pc.cast(_combined(record_ids), pa.string())
    parts = [INDEX_SCHEMA.empty_table()]
    earlier: dict[IdentifierKind, list[pa.Array]] = {}
    for found in identifier_messages(table, contract):
        digests = hmac.hexdigests(found.messages)  # null where the row has no such identifier
        keep = pc.is_valid(digests)
        for other in earlier.get(found.kind, []):  # the same person's same identifier, from another column
            keep = pc.and_(keep, pc.invert(pc.fill_null(pc.equal(digests, other), False)))
        earlier.setdefault(found.kind, []).append(digests)
        kept = digests.filter(keep)
        if len(kept):
            kinds = pa.nulls(len(kept), pa.string()).fill_null(found.kind.value)
            parts.append(pa.table([ids.filter(keep), kinds, kept], schema=INDEX_SCHEMA))
    return pa.concat_tables(parts)


@dataclass(frozen=True)
class Identifier:
    """One identifier a person gives (at the command line, in a request), before it is digested."""

    kind: IdentifierKind
    value: str
    birth_date: date | None = None

    def digest(self, key: bytes) -> str:
        """Its keyed digest (`key` = `subject_key(...)`), normalised exactly as the index was; `InputError` when
        nothing is left of it after normalising (an email without `@`, a phone of too few digits)."""
        value = pa.array([self.value], pa.string())
        if self.kind is IdentifierKind.EMAIL:
            normal = normalise_emails(value)[0].as_py()
        elif self.kind is IdentifierKind.PHONE:
            normal = normalise_phones(value)[0].as_py()
        else:
            normal = normalise_names(value)[0].as_py()
        if normal is None:
            raise InputError(f"the {self.kind.value} given is not one anybody can be found by")
        parts = [self.kind.value, normal]
        if self.kind is IdentifierKind.NAME:
            if self.birth_date is None:
                raise InputError("a name finds a person only with their birth date (--birth-date YYYY-MM-DD)")
            parts.append(self.birth_date.isoformat())
        return Hmac(key).hexdigest(NAME_SEPARATOR.join(parts).encode())


def parse_birth_date(text: str) -> date:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        raise InputError("--birth-date takes YYYY-MM-DD")
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise InputError(f"--birth-date: {exc}") from None


def _strings(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return pc.cast(_combined(values), pa.string())


def _combined(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _null_unless(text: pa.Array, keep: pa.Array) -> pa.Array:
    return pc.if_else(pc.and_kleene(keep, pc.not_equal(text, "")), text, pa.scalar(None, pa.string()))

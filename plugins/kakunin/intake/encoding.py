"""Which of a contract's encodings a file is in: the first that decodes all of it strictly.

Strict decoding alone does not stop mojibake: much UTF-8 Japanese also decodes "cleanly"
as cp932 into nonsense. So a file that is not valid UTF-8 is accepted as cp932 only if
none of its lines with non-ASCII bytes is valid UTF-8 itself: real cp932 Japanese text
practically never is, so even one such line means the file mixes encodings, and it is
rejected rather than guessed (one garbled record is still a wrong record).
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_BLOCK = 8 << 20


@dataclass(frozen=True)
class Detection:
    """The encoding found, or None with the reason none fits."""

    encoding: str | None
    reason: str = ""


def decodes_strictly(path: Path, encoding: str) -> bool:
    """Whether every byte of the file decodes in `encoding` (streamed; memory stays flat)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with path.open("rb") as handle:
            while block := handle.read(_BLOCK):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def utf8_line_share(path: Path) -> tuple[int, int]:
    """(lines with non-ASCII bytes that are valid UTF-8, lines with non-ASCII bytes)."""
    valid = total = 0
    tail = b""
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            lines = (tail + block).split(b"\n")
            tail = lines.pop()
            for line in lines:
                if not line.isascii():
                    total += 1
                    valid += _is_utf8(line)
    if tail and not tail.isascii():
        total += 1
        valid += _is_utf8(tail)
    return valid, total


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(path: Path, candidates: Sequence[str]) -> Detection:
    """The first of `candidates` that decodes the whole file strictly and plausibly.

    Order matters: pure ASCII is valid in both UTF-8 and cp932, and UTF-8 should win.
    """
    mixed_reason = ""
    for encoding in candidates:
        if not decodes_strictly(path, encoding):
            continue
        if encoding.replace("_", "-").lower() not in {"utf-8", "utf8"} and "utf-8" in candidates:
            valid, total = utf8_line_share(path)
            if valid:
                mixed_reason = (
                    f"{valid} of {total} lines with Japanese text are UTF-8 but the file as a whole is not: "
                    "it mixes encodings, and decoding it as one would garble the rest"
                )
                continue
        return Detection(encoding)
    reason = mixed_reason or f"the file does not decode strictly as any of {', '.join(candidates)}"
    return Detection(None, reason + "; nothing was guessed")

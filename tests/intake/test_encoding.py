"""Encoding detection: strict, in the contract's order, and never a silent mojibake."""

from __future__ import annotations

from pathlib import Path

import pytest

from kakunin.intake.encoding import detect_encoding

LINES = ["customer_no,name", "C0000001,山田 太郎", "C0000002,髙橋 花子", "C0000003,佐藤 ①", "C0000004,鈴木 ㈱"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param("\n".join(LINES).encode("utf-8"), "utf-8", id="utf-8"),
        pytest.param("\n".join(LINES).encode("cp932"), "cp932", id="cp932"),
        pytest.param(b"customer_no,name\nC0000001,abc\n", "utf-8", id="ascii-is-utf-8"),
        pytest.param("\n".join(LINES).encode("utf-8") + b"\n\xff\xfe\xfa\n", None, id="undecodable"),
        pytest.param(
            b"\n".join([LINES[0].encode(), LINES[1].encode(), LINES[2].encode(), LINES[3].encode("cp932")]),
            None,
            id="mixed-utf-8-and-cp932",
        ),
        pytest.param(
            b"\n".join([line.encode("cp932") for line in LINES * 60] + [LINES[4].encode("utf-8")]),
            None,
            id="cp932-with-one-utf-8-line",
        ),
    ],
)
def test_detect_encoding(tmp_path: Path, content: bytes, expected: str | None) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    detection = detect_encoding(path, ["utf-8", "cp932"])
    assert detection.encoding == expected
    if expected is None:
        assert "nothing was guessed" in detection.reason


def test_only_the_contracts_encodings_are_tried(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes("\n".join(LINES).encode("cp932"))
    assert detect_encoding(path, ["utf-8"]).encoding is None


def test_good_cp932_sample_is_still_cp932(tmp_path: Path) -> None:
    from kakunin_dev.samples import write_rows

    path = tmp_path / "data.csv"
    write_rows(path, rows=300, seed=7, encoding="cp932", beyond_jis=True)
    assert detect_encoding(path, ["utf-8", "cp932"]).encoding == "cp932"

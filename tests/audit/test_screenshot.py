"""`python -m kakunin_dev.screenshot REPORT_HTML PNG`: the demo's picture of an evidence pack, and its refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _screenshot(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **({"PATH": path} if path is not None else {})}
    return subprocess.run(
        [sys.executable, "-m", "kakunin_dev.screenshot", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _page(tmp_path: Path) -> Path:
    page = tmp_path / "report.html"
    page.write_text("<!doctype html><meta charset=utf-8><h1>証跡 evidence pack</h1>", encoding="utf-8")
    return page


def test_a_page_becomes_a_png(tmp_path: Path) -> None:
    png = tmp_path / "pack.png"

    done = _screenshot(str(_page(tmp_path)), str(png))

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"screenshot: {png}"
    assert png.read_bytes().startswith(PNG_MAGIC)


def test_without_chromium_it_says_to_run_make_browser(tmp_path: Path) -> None:
    done = _screenshot(str(_page(tmp_path)), str(tmp_path / "pack.png"), path=str(tmp_path))

    assert done.returncode == 2
    assert done.stderr.startswith("error: chromium is not installed: run `make browser`")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "pack.png").exists()


def test_it_never_overwrites_and_needs_a_page(tmp_path: Path) -> None:
    png = tmp_path / "pack.png"
    png.write_bytes(b"mine")

    kept = _screenshot(str(_page(tmp_path)), str(png))
    missing = _screenshot(str(tmp_path / "nowhere.html"), str(tmp_path / "other.png"))
    usage = _screenshot(str(_page(tmp_path)))

    assert (kept.returncode, missing.returncode, usage.returncode) == (2, 2, 2)
    assert kept.stderr == f"error: {png}: already exists; refusing to overwrite it\n"
    assert png.read_bytes() == b"mine"
    assert missing.stderr.startswith(f"error: {tmp_path / 'nowhere.html'}: no such file")
    assert usage.stderr.startswith("usage: python -m kakunin_dev.screenshot REPORT_HTML PNG")

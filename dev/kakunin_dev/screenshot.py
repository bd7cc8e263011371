"""A full-page screenshot of an evidence pack (`kakunin audit report`) for people to look at.

    python -m kakunin_dev.screenshot REPORT_HTML PNG

Playwright drives Debian's chromium (`make browser`), never a downloaded one, with the flags
below: this is the one place they live, the evidence pack's browser test launches through it too.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ViewportSize

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
MISSING = "chromium is not installed: run `make browser` (Debian's chromium and fonts-noto-cjk)"


class ChromiumMissing(RuntimeError):
    """Debian's chromium is not on PATH."""


def chromium_path() -> str:
    """Debian's chromium, so nothing is downloaded (`playwright install` is never run)."""
    found = shutil.which("chromium")
    if found is None:
        raise ChromiumMissing(MISSING)
    return found


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium under playwright, closed on the way out."""
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=executable, args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page_file: Path, png: Path) -> None:
    """Open `page_file` (a local HTML file) and save a full-page PNG of it at `png`."""
    with chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(page_file.resolve().as_uri())
        page.screenshot(path=str(png), full_page=True)


def _refusal(page_file: Path, png: Path) -> str | None:
    """Why the arguments cannot be used, or None: the page must exist, the PNG must be new."""
    if not page_file.is_file():
        return f"{page_file}: no such file (the report.html of `kakunin audit report --out DIR`)"
    if png.suffix.lower() != ".png":
        return f"{png}: the screenshot must be a .png file"
    if png.exists():
        return f"{png}: already exists; refusing to overwrite it"
    if not png.parent.is_dir():
        return f"{png.parent}: no such folder"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m kakunin_dev.screenshot REPORT_HTML PNG", file=sys.stderr)
        return 2
    page_file, png = Path(args[0]), Path(args[1])
    problem = _refusal(page_file, png)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        screenshot(page_file, png)
    except ChromiumMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"screenshot: {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Headless Chromium (Debian's, through kakunin_dev.screenshot) against the app served by `airflow_web`.

A `Visit` is one browser context as one user: logged in through Airflow's real login page, every page
it opens saved as a full-page screenshot under var/screenshots/web/, every console error and CSP
violation collected (the CSP forbids inline script and style, so a page that used them would log one).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kakunin_dev.screenshot import VIEWPORT, chromium
from tests.conftest import REPO
from tests.web.conftest import USERS, AirflowWeb

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

SCREENSHOTS = REPO / "var" / "screenshots" / "web"
TIMEOUT_MS = 60_000


@dataclass
class Visit:
    """One user's browser session: the page, what went wrong on it, the screenshots it took."""

    web: AirflowWeb
    page: Page
    trouble: list[str] = field(default_factory=list)
    shots: list[Path] = field(default_factory=list)
    refusals: set[str] = field(default_factory=set)  # pages opened expecting an error status

    def open(self, path: str, *, status: int = 200) -> Page:
        """Open `path` under /kakunin, wait for it to settle, and check the answer's status."""
        if status >= 400:  # Chromium logs the page's own error status as a console error: expected here
            self.refusals.add(f"{self.web.app}{path}")
        answer = self.page.goto(f"{self.web.app}{path}", wait_until="networkidle")
        assert answer is not None, path
        assert answer.status == status, f"{path}: {answer.status}, expected {status}"
        return self.page

    def shot(self, name: str) -> Path:
        """A full-page screenshot of what the page shows now, as var/screenshots/web/<name>.png."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        png = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(png), full_page=True)
        self.shots.append(png)
        return png


def _watch(page: Page, trouble: list[str], refusals: set[str]) -> None:
    def console(message: ConsoleMessage) -> None:
        expected = message.text.startswith("Failed to load resource") and message.location.get("url") in refusals
        if message.type == "error" and not expected:
            trouble.append(f"console error on {page.url}: {message.text}")

    page.on("console", console)
    page.on("dialog", lambda dialog: dialog.accept())  # the app's "are you sure?" (data-confirm): a person says yes
    page.on("pageerror", lambda error: trouble.append(f"page error on {page.url}: {error}"))


def log_in(page: Page, web: AirflowWeb, user: str) -> None:
    """Log in through Airflow's own login page (/auth/login), as a person would, and land on Kakunin's home."""
    page.goto(f"{web.app}/", wait_until="networkidle")  # anonymous: sent to Airflow's login page
    assert "/auth/login" in page.url, f"not sent to the login page: {page.url}"
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", USERS[user][1])
    page.click("button[type=submit]")
    page.wait_for_url(f"{web.app}/**", timeout=TIMEOUT_MS)
    page.wait_for_load_state("networkidle")


@contextmanager
def visit(browser: Browser, web: AirflowWeb, user: str | None) -> Iterator[Visit]:
    """A fresh browser context (no cookies) as `user` (None: anonymous), logged in through the login page."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        found = Visit(web=web, page=page)
        _watch(page, found.trouble, found.refusals)
        if user is not None:
            log_in(page, web, user)
        yield found
    finally:
        context.close()


@contextmanager
def browser() -> Iterator[Browser]:
    """Debian's headless chromium (never a downloaded one)."""
    with chromium() as found:
        yield found

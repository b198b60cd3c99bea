"""Browser tests: a real Chromium (driven by Playwright) against a real issuer and gunicorn.

The browser is Debian's Chromium (`apt-get install chromium`), not Playwright's own download:
set OSAPP_BROWSER_EXECUTABLE to use another binary. When Playwright or the browser is missing,
the tests are skipped locally and fail under CI=true.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# The integration fixtures, reused as they are: `start_system` starts an issuer (with fault
# injection) and gunicorn per test; `osapp` is the session-wide pair for long-lived tokens.
from tests.integration.conftest import System, issuer, osapp, osapp_port, start_system  # noqa: F401

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS_DIR = Path(os.environ.get("OSAPP_BROWSER_SHOTS", "/tmp/browser-shots"))

# Counts every WebSocket the page opens and the close code of each, before any page script runs.
RECORD_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = { opened: 0, closes: [] };
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("open", () => { window.__sockets.opened += 1; });
      this.addEventListener("close", (e) => { window.__sockets.closes.push(e.code); });
    }
  };
})();
"""


def pytest_configure(config: pytest.Config) -> None:
    if not any(line.startswith("browser:") for line in config.getini("markers")):
        config.addinivalue_line("markers", "browser: drives a real Chromium through Playwright")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: browser tests must run)", pytrace=False)
    pytest.skip(reason)


def _chromium_executable() -> str | None:
    configured = os.environ.get("OSAPP_BROWSER_EXECUTABLE")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


# Module scope, not session: Playwright's sync API keeps an asyncio loop running in the main
# thread while it is open, which would break every later test that calls asyncio.run().
@pytest.fixture(scope="module")
def chromium():
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright)")
    executable = _chromium_executable()
    if executable is None:
        _unavailable("no Chromium at /usr/bin/chromium (apt-get install chromium) "
                     "or OSAPP_BROWSER_EXECUTABLE")
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=executable, headless=True, args=CHROMIUM_ARGS
            )
        except PlaywrightError as exc:
            _unavailable(f"Chromium at {executable} did not start: {exc}")
        yield browser
        browser.close()


@dataclass
class PageProblems:
    """Console errors and uncaught exceptions of a page; a test asserts there are none."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def _console(self, message) -> None:
        if message.type != "error":
            return
        self.errors.append(f"console.error: {message.text} (at {message.location.get('url')})")


@pytest.fixture
def page_problems() -> PageProblems:
    return PageProblems()


@pytest.fixture
def context(chromium):
    ctx = chromium.new_context(viewport={"width": 1100, "height": 800})
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context, page_problems) -> Iterator:
    page = context.new_page()
    page.add_init_script(RECORD_SOCKETS)
    page_problems.watch(page)
    yield page
    page.close()


@pytest.fixture
def shots_dir() -> Path:
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
    return SHOTS_DIR

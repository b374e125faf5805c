"""End-to-end fixtures: Debian's Chromium driven by Playwright's sync API against live_server.

Never downloads a browser: the executable is /usr/bin/chromium (override with AMIDASH_CHROMIUM).
Screenshots go to test-artifacts/screenshots/ (git-ignored). With AMIDASH_PUBLISH_SCREENSHOTS set
(``make screenshots``), the ones marked ``publish`` are also copied into docs/screenshots/ for the
README; a plain test run leaves the tree as it was.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django would otherwise refuse the ORM
# calls that tests make between browser steps.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
PUBLISHED = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("AMIDASH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def database(transactional_db) -> None:
    """The live server answers from another thread: it sees only committed rows."""


@pytest.fixture
def page(browser, live_server) -> Iterator:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def sign_in(page, username: str, password: str) -> None:
    """Sign in through the real login form, as a user would."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")


def screenshot(page, name: str, *, publish: bool = False, full_page: bool = True) -> Path:
    """Save a PNG under test-artifacts/screenshots/; with publish, and AMIDASH_PUBLISH_SCREENSHOTS
    set, copy it to docs/screenshots/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    if publish and os.environ.get("AMIDASH_PUBLISH_SCREENSHOTS"):
        PUBLISHED.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, PUBLISHED / path.name)
    return path

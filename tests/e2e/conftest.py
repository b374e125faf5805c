"""End-to-end fixtures: Debian's Chromium driven by Playwright's sync API against live_server.

Never downloads a browser: the executable is /usr/bin/chromium (override with AMIDASH_CHROMIUM).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS

# Playwright's sync API runs an event loop in this thread; Django would otherwise refuse the ORM
# calls that tests make between browser steps.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


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

"""Driving Debian's Chromium: where it is, how it starts, signing in and screenshots.

Screenshots go to test-artifacts/screenshots/ (git-ignored). With AMIDASH_PUBLISH_SCREENSHOTS set
(``make screenshots``), the ones marked ``publish`` are also copied into docs/screenshots/ for the
README; a plain test run leaves the tree as it was.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

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
    if publish:
        publish_screenshot(path)
    return path


def publish_screenshot(path: Path) -> None:
    """Copy a PNG to docs/screenshots/ when AMIDASH_PUBLISH_SCREENSHOTS asks for it."""
    if os.environ.get("AMIDASH_PUBLISH_SCREENSHOTS"):
        PUBLISHED.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, PUBLISHED / path.name)

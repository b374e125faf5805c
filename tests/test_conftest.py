"""A run's closing line says how many browser tests ran, and why and how when they were skipped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.mark.integration
def test_a_run_without_chromium_ends_saying_the_browser_tests_were_skipped_and_how_to_run_them():
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/e2e/test_sign_in.py"],
        cwd=REPOSITORY,
        env={**os.environ, "AMIDASH_CHROMIUM": "/nonexistent/chromium"},
        capture_output=True,
        text=True,
        timeout=300,
    )

    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("browser tests: 0 ran, "), result.stdout[-2000:]
    assert "skipped (Chromium not found at /nonexistent/chromium" in last
    assert "to run them: apt-get install chromium" in last

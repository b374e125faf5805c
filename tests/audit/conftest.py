"""Audit tests: a private digest folder and signing key per test."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def audit_files(settings, tmp_path):
    """Digests and the signing key go to a temporary folder, never the real data folder."""
    settings.AUDIT_DIGEST_DIR = tmp_path / "digests"
    settings.AUDIT_SIGNING_KEY_FILE = tmp_path / "keys" / "audit-signing-key.pem"
    return settings

"""Lifecycle fixtures: quick settings, private audit files, the sandbox (the database: see
tests/conftest.py)."""

from __future__ import annotations

import pytest

from amidash.sandbox import sandbox
from lifecycle.services.audit_signing import create_signing_key
from tests.amidash.sandbox.images import REGION
from tests.factories import create_user


@pytest.fixture(autouse=True)
def lifecycle_settings(settings):
    """Quick pacing and no network for notifications; one approval per action."""
    settings.SYNC_REGIONS = [REGION]
    settings.LIFECYCLE_MUTATIONS_PER_SECOND = 1000.0
    settings.LIFECYCLE_MUTATION_BURST = 1000
    settings.LIFECYCLE_APPROVALS_REQUIRED = {}
    settings.LIFECYCLE_WEBHOOK_URL = ""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return settings


@pytest.fixture(autouse=True)
def audit_files(settings, tmp_path):
    """Digests and the signing key go to a temporary folder, never the real data folder."""
    settings.AUDIT_DIGEST_DIR = tmp_path / "digests"
    settings.AUDIT_SIGNING_KEY_FILE = tmp_path / "keys" / "audit-signing-key.pem"
    create_signing_key()  # as an operator would, with manage.py create_audit_key
    return settings


@pytest.fixture
def aws():
    with sandbox() as handle:
        yield handle


@pytest.fixture
def second_approver(db):
    from amidash.roles import Role

    return create_user("bea", Role.APPROVER)

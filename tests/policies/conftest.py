"""Fixtures for policy tests: images in the inventory (no AWS) and policies."""

from __future__ import annotations

import pytest

from tests.lifecycle.conftest import aws  # noqa: F401 (fixtures for these tests


@pytest.fixture(autouse=True)
def policy_settings(settings):
    settings.SYNC_REGIONS = ["us-east-1"]
    settings.LIFECYCLE_MUTATIONS_PER_SECOND = 1000.0
    settings.LIFECYCLE_MUTATION_BURST = 1000
    settings.LIFECYCLE_APPROVALS_REQUIRED = {}
    settings.LIFECYCLE_WEBHOOK_URL = ""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.POLICY_TEAM_EMAILS = {"web-team": "web@example.com"}
    return settings

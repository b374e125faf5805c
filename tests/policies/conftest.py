"""Fixtures for policy tests: images in the inventory (no AWS) and policies."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from inventory.models import AccountRegion, Image
from policies.models import Policy
from tests.dashboards.factories import make_account, make_image, make_usage
from tests.lifecycle.conftest import aws, eager_celery  # noqa: F401 (fixtures for these tests)

__all__ = ["make_usage", "policy", "stock_image"]


@pytest.fixture(autouse=True)
def database(request) -> None:
    fixture = "transactional_db" if "transactional_db" in request.fixturenames else "db"
    request.getfixturevalue(fixture)


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


def stock_image(name: str, age_days: int = 200, **fields: Any) -> Image:
    """An image whose Region was listed just now (so its usage is known), first seen long ago."""
    fields.setdefault("first_seen_at", timezone.now() - datetime.timedelta(days=400))
    fields.setdefault("account", make_account())
    image = make_image(name=name, age_days=age_days, **fields)
    AccountRegion.objects.filter(pk=image.account_region_id).update(last_listed_at=timezone.now())
    return image


def policy(name: str = "tidy", **fields: Any) -> Policy:
    return Policy.objects.create(name=name, **fields)

"""Rules that live on the inventory models."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import Image, image_family


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("web-server-1.4.2", "web-server"),
        ("web-server-1.5.0", "web-server"),
        ("base 2024-01-15", "base"),
        ("amzn2-ami-hvm-2.0.20240109.0-x86_64-gp2", "amzn2-ami-hvm-x86_64-gp2"),
        ("payments_api_v12", "payments_api"),
        ("ubuntu/images/jammy-22.04-20240101", "ubuntu/images/jammy"),
        ("1.2.3", "1.2.3"),
        ("golden", "golden"),
    ],
)
def test_it_derives_the_family_from_the_name(name, family):
    assert image_family(name) == family


def test_it_estimates_the_monthly_cost_at_the_configured_price(settings):
    settings.STORAGE_PRICE_PER_GB_MONTH = 0.05
    assert Image(storage_gib=30).monthly_cost == Decimal("1.50")
    settings.STORAGE_PRICE_PER_GB_MONTH = 0.1
    assert Image(storage_gib=30).monthly_cost == Decimal("3.00")


def test_it_tells_age_deprecation_and_protection():
    now = timezone.now()
    image = Image(
        creation_date=now - timedelta(days=40, hours=1),
        deprecation_time=now - timedelta(minutes=1),
        deregistration_protection="enabled-with-cooldown",
    )
    assert image.age_days == 40
    assert image.is_deprecated and image.is_protected
    assert Image(deprecation_time=now + timedelta(days=1)).is_deprecated is False
    assert Image(deregistration_protection="disabled").is_protected is False
    cooling = (now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert Image(deregistration_protection=f"disabled-until {cooling}").is_protected is True
    assert Image().age_days is None

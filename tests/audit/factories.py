"""Inventory rows for audit tests (an image to hang a timeline on)."""

from __future__ import annotations

from django.utils import timezone

from inventory.models import Account, AccountRegion, Image


def make_image(image_id: str = "ami-0123456789abcdef0", name: str = "web-1.0") -> Image:
    account, _ = Account.objects.get_or_create(account_id="123456789012", defaults={"name": "prod"})
    account_region, _ = AccountRegion.objects.get_or_create(account=account, region="eu-west-1")
    now = timezone.now()
    return Image.objects.create(
        account=account,
        account_region=account_region,
        region="eu-west-1",
        image_id=image_id,
        name=name,
        state="available",
        first_seen_at=now,
        last_seen_at=now,
    )

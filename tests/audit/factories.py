"""Inventory rows for audit tests (an image to hang a timeline on)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from inventory.models import Account, AccountRegion, Image
from lifecycle.models import LifecycleRequest


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


def make_request(requester: AbstractBaseUser) -> LifecycleRequest:
    """A bare lifecycle request row (the request service's rules are not under test here)."""
    return LifecycleRequest.objects.create(
        requester=requester,
        action="deprecate",
        reason="old base image",
        fingerprint="0" * 64,
        expires_at=timezone.now() + timedelta(days=7),
    )

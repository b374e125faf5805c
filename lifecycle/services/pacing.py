"""Pacing of AWS mutations: token buckets per account+Region+API shared by every worker.

EC2 throttles mutating calls per account and Region (burst / refill: DeregisterImage 100 / 5,
DisableImage 50 / 5, CopyImage 100 / 1 ...). amidash stays under a configured rate
(``LIFECYCLE_MUTATIONS_PER_SECOND``, burst ``LIFECYCLE_MUTATION_BURST``) so other tools in the
same account keep their share. Buckets live in PostgreSQL rows locked ``FOR UPDATE`` so several
workers pace together; a token is taken in a short transaction of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from lifecycle.actions import ACTIONS
from lifecycle.models import PacingBucket

#: EC2's own refill rate per second for the mutating APIs amidash calls (each action's spec; see
#: docs/architecture.md, AWS behaviours).
EC2_REFILL_PER_SECOND = {spec.operation: spec.refill_per_second for spec in ACTIONS.values()}


@dataclass(frozen=True)
class Rate:
    """Tokens per second and the bucket's size."""

    per_second: float
    burst: int


def rate_for(api: str) -> Rate:
    """The configured rate, never above EC2's own refill for that API."""
    configured = settings.LIFECYCLE_MUTATIONS_PER_SECOND
    ceiling = EC2_REFILL_PER_SECOND.get(api, configured)
    return Rate(min(configured, ceiling), settings.LIFECYCLE_MUTATION_BURST)


def bucket_key(account_id: str, region: str, api: str) -> str:
    return f"{account_id}:{region}:{api}"


def try_take(key: str, rate: Rate) -> float:
    """Take one token if there is one; returns 0, or the seconds until one will be there."""
    with transaction.atomic():
        now = timezone.now()
        bucket, _created = PacingBucket.objects.select_for_update().get_or_create(
            key=key, defaults={"tokens": float(rate.burst), "updated_at": now}
        )
        elapsed = max((now - bucket.updated_at).total_seconds(), 0.0)
        tokens = min(float(rate.burst), bucket.tokens + elapsed * rate.per_second)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / rate.per_second
        PacingBucket.objects.filter(pk=bucket.pk).update(tokens=tokens, updated_at=now)
        return wait


def acquire(
    account_id: str, region: str, api: str, sleep: Callable[[float], None] = time.sleep
) -> float:
    """Block until a mutation of ``api`` in the account+Region may go out; returns the wait."""
    key, rate = bucket_key(account_id, region, api), rate_for(api)
    waited = 0.0
    while (wait := try_take(key, rate)) > 0:
        sleep(wait)
        waited += wait
    return waited

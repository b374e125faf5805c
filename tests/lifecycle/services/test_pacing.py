"""Pacing buckets shared through PostgreSQL."""

from __future__ import annotations

import pytest

from lifecycle.services import pacing

pytestmark = pytest.mark.django_db


def test_it_gives_the_burst_then_makes_callers_wait(settings):
    settings.LIFECYCLE_MUTATIONS_PER_SECOND = 2.0
    settings.LIFECYCLE_MUTATION_BURST = 3
    rate = pacing.rate_for("DeregisterImage")
    key = pacing.bucket_key("123456789012", "us-east-1", "DeregisterImage")
    assert [pacing.try_take(key, rate) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = pacing.try_take(key, rate)
    assert 0 < wait <= 0.5
    other = pacing.bucket_key("123456789012", "eu-west-1", "DeregisterImage")
    assert pacing.try_take(other, rate) == 0.0  # each account+Region has its own bucket


def test_it_never_paces_above_ec2s_own_refill(settings):
    settings.LIFECYCLE_MUTATIONS_PER_SECOND = 50.0
    assert pacing.rate_for("CopyImage").per_second == 1.0
    assert pacing.rate_for("DeregisterImage").per_second == 5.0

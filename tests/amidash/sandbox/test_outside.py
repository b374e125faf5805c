"""The demo's changes made outside amidash: the next sync observes them, CloudTrail names who
made them, the audit report says so, and a restart replays them to the same estate and trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from amidash.sandbox import SandboxControlError
from amidash.sandbox.estate import PROD, SHARED_SERVICES, estate_accounts
from amidash.sandbox.runtime import make_outside_changes_state

EPOCH = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def demo_synced(inprocess_aws, db, settings):
    """The demo estate, registered and synced once (us-east-1, where the engineers work)."""
    from amidash.demo import register_estate_accounts
    from inventory.services.sync import run_sync

    settings.SYNC_REGIONS = ["us-east-1"]
    settings.CLOUDTRAIL_LOOKUPS_PER_SECOND = 2.0
    inprocess_aws.load_estate("demo", seed=42, epoch=EPOCH)
    register_estate_accounts(estate_accounts(seed=42, estate="demo"))
    assert run_sync(None).status == "succeeded"
    return inprocess_aws


def test_the_report_names_who_made_the_demo_changes_outside_amidash(demo_synced):
    from inventory.services.sync import run_sync
    from lifecycle.models import AuditEvent
    from lifecycle.services.cloudtrail import look_up_observations
    from lifecycle.services.report_figures import ReportScope, compute_figures
    from tests.factories import last_audit_sequence

    first = last_audit_sequence()
    done = demo_synced.make_outside_changes()
    second = run_sync(None)
    mine = AuditEvent.objects.filter(sequence__gt=first)
    summary = look_up_observations(observations=mine, sleep=lambda seconds: None)
    now = timezone.now()
    figures = compute_figures(ReportScope(now - timedelta(hours=1), now + timedelta(hours=1)), mine)

    calls = sorted(change["call"] for change in done["changes"])
    assert calls == ["DeregisterImage", "DisableImage", "EnableImage", "EnableImageDeprecation"]
    assert (second.images_changed, second.images_gone) == (3, 1)
    assert (summary.found, summary.not_found, summary.retry) == (4, 0, 0)
    said = {change.image_id: change.cloudtrail for change in figures.outside}
    for change in done["changes"]:
        assert said[change["image_id"]].split(", ")[1].startswith(change["call"])
        if change["account_id"] == PROD:
            assert said[change["image_id"]].startswith(f"arn:aws:iam::{PROD}:user/jordan.ops")
            assert said[change["image_id"]].endswith("from 198.51.100.23")
        else:
            assert said[change["image_id"]].startswith(
                f"arn:aws:sts::{SHARED_SERVICES}:assumed-role/PlatformEngineer/alex.platform "
                "(source identity alex.platform)"
            )


def test_a_restart_replays_the_changes_with_their_time_and_syncs_to_no_changes(demo_synced):
    from inventory.models import Image
    from inventory.services.sync import run_sync

    done = demo_synced.make_outside_changes()
    run_sync(None)
    fields = ("image_id", "state", "deprecation_time", "gone_at")
    rows = sorted(Image.objects.values_list(*fields))

    demo_synced.advance_clock(2 * 86400)
    demo_synced.load_estate("demo", seed=42, epoch=EPOCH)  # the restart
    replayed = make_outside_changes_state(datetime.fromisoformat(done["time"]))
    after = run_sync(None)

    assert replayed["changes"] == done["changes"]
    assert (after.images_created, after.images_changed, after.images_gone) == (0, 0, 0)
    assert sorted(Image.objects.values_list(*fields)) == rows
    trail = demo_synced.client("cloudtrail", account_id=PROD).lookup_events()["Events"]
    assert {event["EventTime"] for event in trail} == {datetime.fromisoformat(done["time"])}


def test_outside_changes_need_an_estate_with_accounts(aws):
    with pytest.raises(SandboxControlError, match="need an estate with accounts"):
        aws.make_outside_changes()

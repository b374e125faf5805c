"""The sync: images of every account and Region in PostgreSQL, as EC2 reports them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections
from django.utils import timezone

from amidash.locks import sync_lock_key, sync_slot_key
from inventory.choices import ImageState, RegionSyncStatus, SyncStatus
from inventory.models import Account, AccountRegion, Image, SyncRegionResult, SyncRun
from inventory.services import listing
from inventory.services.sync import WORKER_LOST, reap_runs, stalled_regions
from tests.amidash.sandbox.images import OTHER_REGION, REGION, register_image
from tests.factories import sync

pytestmark = pytest.mark.django_db

SECOND_ACCOUNT = "210987654321"
SECOND_ROLE = f"arn:aws:iam::{SECOND_ACCOUNT}:role/amidash-read"


def test_it_registers_the_ambient_account_and_lists_its_images(aws):
    image_id = register_image(aws, "web-server-1.4.2", size_gib=12, tags={"team": "web"})

    run = sync()

    assert run.status == SyncStatus.SUCCEEDED
    account = Account.objects.get()
    assert account.account_id == "123456789012"
    image = Image.objects.get(image_id=image_id)
    assert (image.account, image.region, image.name) == (account, REGION, "web-server-1.4.2")
    assert image.state == ImageState.AVAILABLE
    assert image.family == "web-server"
    assert image.tags == {"team": "web"}
    assert image.storage_gib == 12
    assert image.block_devices[0]["snapshot_id"].startswith("snap-")
    assert image.architecture == "x86_64"
    assert image.first_seen_at == image.last_seen_at
    assert image.gone_at is None and not image.in_use


def test_it_records_one_result_per_region_with_counts(aws):
    register_image(aws, "a-1")
    register_image(aws, "b-1")

    run = sync()

    results = {r.region: r for r in run.results.all()}
    assert set(results) == {REGION, OTHER_REGION}
    assert results[REGION].status == RegionSyncStatus.SUCCEEDED
    assert (results[REGION].images_seen, results[REGION].images_created) == (2, 2)
    assert results[OTHER_REGION].images_seen == 0
    assert results[REGION].api_calls > 0
    assert (run.images_seen, run.images_created, run.regions_succeeded) == (2, 2, 2)
    assert AccountRegion.objects.get(region=REGION).last_listed_at is not None


def test_it_skips_regions_not_opted_in_and_says_so(aws, settings):
    # DescribeRegions(AllRegions=True) gives OptInStatus; not-opted-in Regions are skipped.
    settings.SYNC_REGIONS = [REGION, "af-south-1"]

    run = sync()

    skipped = run.results.get(region="af-south-1")
    assert skipped.status == RegionSyncStatus.SKIPPED
    assert skipped.error == "not opted in"
    assert "not opted in" in skipped.summary_line()
    assert run.status == SyncStatus.SUCCEEDED
    assert AccountRegion.objects.get(region="af-south-1").opt_in_status == "not-opted-in"


def test_it_discovers_every_region_of_the_partition_without_a_limit(aws, settings):
    settings.SYNC_REGIONS = []
    run = sync()

    regions = set(run.results.values_list("region", flat=True))
    assert {"us-east-1", "eu-west-1", "ap-southeast-2"} <= regions
    assert not any(r.startswith(("cn-", "us-gov-")) for r in regions)


def test_it_carries_deprecated_disabled_and_public_images(aws):
    ec2 = aws.client("ec2", REGION)
    deprecated = register_image(aws, "old-1")
    disabled = register_image(aws, "off-1")
    public = register_image(aws, "pub-1")
    deprecate_at = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=30)
    ec2.enable_image_deprecation(ImageId=deprecated, DeprecateAt=deprecate_at)
    ec2.disable_image(ImageId=disabled)
    ec2.modify_image_attribute(ImageId=public, LaunchPermission={"Add": [{"Group": "all"}]})

    sync()

    images = {i.image_id: i for i in Image.objects.all()}
    assert images[deprecated].deprecation_time == deprecate_at
    assert not images[deprecated].is_deprecated  # in 30 days
    assert images[disabled].state == ImageState.DISABLED
    assert images[public].public is True
    assert images[disabled].public is False


def test_it_reports_a_past_deprecation_as_deprecated(aws):
    image_id = register_image(aws, "old-1")
    deprecate_at = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=5)
    aws.client("ec2", REGION).enable_image_deprecation(ImageId=image_id, DeprecateAt=deprecate_at)
    aws.advance_clock(3600)

    sync()

    assert Image.objects.get(image_id=image_id).deprecation_time == deprecate_at


def test_it_records_who_an_image_is_shared_with(aws):
    image_id = register_image(aws, "golden-1")
    aws.client("ec2", REGION).modify_image_attribute(
        ImageId=image_id,
        LaunchPermission={"Add": [{"UserId": SECOND_ACCOUNT}, {"UserId": "111122223333"}]},
    )

    sync()

    image = Image.objects.get(image_id=image_id)
    assert image.shared_with == ["111122223333", SECOND_ACCOUNT]
    assert image.is_shared and not image.public
    assert image.launch_permissions_checked_at is not None


def test_it_records_the_source_of_a_copied_image(aws):
    source = register_image(aws, "base-2.0", region=OTHER_REGION)
    copy = aws.client("ec2", REGION).copy_image(
        Name="base-2.0", SourceImageId=source, SourceRegion=OTHER_REGION
    )["ImageId"]

    sync()

    image = Image.objects.get(image_id=copy)
    assert (image.source_image_id, image.source_image_region) == (source, OTHER_REGION)


def test_it_marks_an_image_deregistered_outside_the_product_as_gone(aws, observed_signals):
    keep = register_image(aws, "keep-1")
    drop = register_image(aws, "drop-1")
    first = sync()
    aws.client("ec2", REGION).deregister_image(ImageId=drop)

    second = sync()

    gone = Image.objects.get(image_id=drop)
    assert gone.gone_at is not None and gone.state == ImageState.DEREGISTERED
    assert Image.objects.get(image_id=keep).gone_at is None
    assert second.results.get(region=REGION).images_gone == 1
    events = [(n, k) for n, k in observed_signals if n == "image_gone"]
    assert len(events) == 1
    _name, event = events[0]
    assert event["image"].image_id == drop
    assert event["before"].state == "available"
    assert event["after"].state == "deregistered"
    assert event["sync_run"] == second and event["source"] == "sync" and event["actor"] is None
    assert first.pk != second.pk


def test_it_brings_back_an_image_that_reappears(aws, observed_signals):
    image_id = register_image(aws, "flaky-1")
    sync()
    Image.objects.filter(image_id=image_id).update(
        gone_at=datetime.now(UTC), state=ImageState.DEREGISTERED
    )

    sync()

    image = Image.objects.get(image_id=image_id)
    assert image.gone_at is None and image.state == ImageState.AVAILABLE
    assert [n for n, _ in observed_signals].count("image_appeared") == 2


def test_it_sends_a_signal_for_each_observed_change(aws, observed_signals):
    image_id = register_image(aws, "app-1")
    sync()
    ec2 = aws.client("ec2", REGION)
    ec2.disable_image(ImageId=image_id)
    deprecate_at = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=3)
    ec2.enable_image_deprecation(ImageId=image_id, DeprecateAt=deprecate_at)
    observed_signals.clear()

    run = sync()

    names = [n for n, _ in observed_signals]
    assert names.count("image_state_changed") == 1
    assert names.count("image_deprecation_changed") == 1
    assert names[-1] == "sync_finished"
    state_change = next(k for n, k in observed_signals if n == "image_state_changed")
    assert (state_change["before"].state, state_change["after"].state) == (
        "available",
        "disabled",
    )
    assert run.results.get(region=REGION).images_changed == 1


def test_it_writes_no_image_rows_when_nothing_changed(aws, observed_signals):
    for number in range(5):
        register_image(aws, f"svc-{number}")
    sync()
    before = list(Image.objects.order_by("pk").values())
    observed_signals.clear()

    run = sync()

    result = run.results.get(region=REGION)
    assert (result.images_seen, result.images_created, result.images_changed) == (5, 0, 0)
    assert result.image_rows_written == 0
    assert list(Image.objects.order_by("pk").values()) == before
    assert [n for n, _ in observed_signals] == ["sync_finished"]
    # Still reported as seen now: its Region's complete listing says so.
    image = Image.objects.select_related("account_region").first()
    assert image.seen_at() == image.account_region.last_listed_at


def test_it_pages_through_describe_images(aws, monkeypatch):
    # DescribeImages paginates (MaxResults, NextToken); the sync asks for 1000 per page.
    monkeypatch.setattr(listing, "PAGE_SIZE", 5)
    ids = {register_image(aws, f"many-{n}") for n in range(12)}
    aws.clear_calls()

    sync()

    assert set(Image.objects.values_list("image_id", flat=True)) == ids
    pages = aws.calls(action="DescribeImages", region=REGION)
    assert len(pages) == 3


def test_it_syncs_two_accounts_with_an_assumed_role(aws):
    Account.objects.create(account_id="123456789012", name="tools")
    Account.objects.create(
        account_id=SECOND_ACCOUNT, name="prod", role_arn=SECOND_ROLE, external_id="amidash-ext"
    )
    mine = register_image(aws, "tools-1")
    theirs = register_image(aws, "prod-1", account_id=SECOND_ACCOUNT)

    run = sync()

    assert run.status == SyncStatus.SUCCEEDED
    owners = dict(Image.objects.values_list("image_id", "account__account_id"))
    assert owners == {mine: "123456789012", theirs: SECOND_ACCOUNT}
    assert run.results.filter(account__account_id=SECOND_ACCOUNT).count() == 2
    assumed = aws.calls(action="AssumeRole")
    assert assumed, "the second account is reached through its role"


def test_it_syncs_only_the_named_account_and_region(aws):
    Account.objects.create(account_id="123456789012", name="tools")
    Account.objects.create(account_id=SECOND_ACCOUNT, name="prod", role_arn=SECOND_ROLE)

    run = sync(account_ids=[SECOND_ACCOUNT], regions=[OTHER_REGION])

    assert list(run.results.values_list("account__account_id", "region")) == [
        (SECOND_ACCOUNT, OTHER_REGION)
    ]


def test_it_skips_disabled_accounts(aws):
    Account.objects.create(account_id="123456789012", name="tools", enabled=False)
    Account.objects.create(account_id=SECOND_ACCOUNT, name="prod", role_arn=SECOND_ROLE)

    run = sync()

    assert set(run.results.values_list("account__account_id", flat=True)) == {SECOND_ACCOUNT}


def test_it_never_lists_a_region_switched_off(aws):
    sync()
    AccountRegion.objects.filter(region=OTHER_REGION).update(synced=False)
    aws.clear_calls()

    run = sync()

    assert run.results.get(region=OTHER_REGION).status == RegionSyncStatus.SKIPPED
    assert not aws.calls(action="DescribeImages", region=OTHER_REGION)


def test_it_refuses_malformed_or_unknown_scope(aws):
    from inventory.services.sync import SyncScopeError

    Account.objects.create(account_id="123456789012")
    with pytest.raises(SyncScopeError, match="12 digits"):
        sync(account_ids=["12345"])
    with pytest.raises(SyncScopeError, match="Region name"):
        sync(regions=["moon-1"])
    with pytest.raises(SyncScopeError, match="unknown account 999999999999"):
        sync(account_ids=["999999999999"])
    assert not SyncRegionResult.objects.exists()


# Runs never stay running: a Region whose worker is gone is failed as "worker lost" and its run
# closed; a Region whose worker still holds its lock is left alone.
ACCOUNT = "123456789012"


@pytest.fixture
def stuck_run(aws):
    """A run whose Region was claimed long ago by a worker that then vanished."""
    image_id = register_image(aws, "app-1")
    sync(regions=[REGION])
    run = SyncRun.objects.create(status=SyncStatus.RUNNING, started_at=timezone.now())
    result = SyncRegionResult.objects.create(
        sync_run=run,
        account=Account.objects.get(account_id=ACCOUNT),
        region=REGION,
        status=RegionSyncStatus.RUNNING,
        started_at=timezone.now() - timedelta(minutes=10),
    )
    return run, result, image_id


def test_it_fails_a_region_whose_worker_is_gone_and_closes_the_run(stuck_run):
    run, result, image_id = stuck_run

    assert reap_runs() == 1

    result.refresh_from_db()
    run.refresh_from_db()
    assert (result.status, result.error) == (RegionSyncStatus.FAILED, WORKER_LOST)
    assert run.status == SyncStatus.FAILED and run.finished_at is not None
    assert Image.objects.get(image_id=image_id).gone_at is None


def test_it_leaves_a_region_whose_worker_still_holds_its_lock(stuck_run):
    _, result, _ = stuck_run
    worker = connections.create_connection("default")
    try:
        with worker.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [sync_lock_key(ACCOUNT, REGION)])
        assert reap_runs() == 0
    finally:
        worker.close()  # the worker's connection dies: its lock goes with it

    result.refresh_from_db()
    assert result.status == RegionSyncStatus.RUNNING
    assert reap_runs() == 1


def test_it_leaves_a_region_that_just_started(stuck_run):
    _, result, _ = stuck_run
    SyncRegionResult.objects.filter(pk=result.pk).update(started_at=timezone.now())

    assert reap_runs() == 0


def test_it_queues_again_a_pending_region_only_while_its_account_syncs_nothing(stuck_run):
    """A pending Region's message may be lost (a broker restarted without persistence): it is
    queued again, unless a Region of its account holds a slot (then it waits for that slot)."""
    run, _, _ = stuck_run
    account = Account.objects.get(account_id=ACCOUNT)
    waiting = SyncRegionResult.objects.create(
        sync_run=run,
        account=account,
        region=OTHER_REGION,
        queued_at=timezone.now() - timedelta(minutes=10),
    )
    worker = connections.create_connection("default")
    try:
        with worker.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [sync_slot_key(ACCOUNT, 0)])
        assert stalled_regions() == []
    finally:
        with worker.cursor() as cursor:  # closing alone releases it only eventually
            cursor.execute("SELECT pg_advisory_unlock_all()")
        worker.close()

    assert stalled_regions() == [waiting.pk]
    SyncRegionResult.objects.filter(pk=waiting.pk).update(queued_at=timezone.now())
    assert stalled_regions() == []  # just queued: not yet


def test_it_closes_a_run_that_never_got_its_regions(aws, settings):
    run = SyncRun.objects.create(status=SyncStatus.RUNNING)
    SyncRun.objects.filter(pk=run.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.SYNC_REGION_TIME_LIMIT + 120)
    )

    reap_runs()

    run.refresh_from_db()
    assert run.status == SyncStatus.FAILED and "worker lost" in run.error

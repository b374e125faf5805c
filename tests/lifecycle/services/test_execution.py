"""Each action end to end against the sandbox: request, approve, execute; AWS and the inventory
checked afterwards (invariants 3, 4 and 5 in docs/architecture.md)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from amidash.locks import sync_lock_key
from inventory.choices import ImageState
from inventory.models import Account, Image
from inventory.services.consumers import refresh_consumers
from lifecycle.actions.copy import client_token
from lifecycle.choices import ItemStatus, RequestStatus
from lifecycle.models import AuditVerb, LifecycleRequest, RequestItem
from lifecycle.services.execution import (
    Sessions,
    claim_item,
    execute_request,
    reconcile_items,
    resume_requests,
    run_item,
    start_request,
)
from tests.amidash.sandbox.images import (
    OTHER_REGION,
    REGION,
    ec2_client,
    launch,
    register_ebs_image,
    register_image,
)
from tests.factories import approve, ask, image, request_events, signed_in, sync

pytestmark = pytest.mark.django_db


@contextmanager
def other_session():
    """A cursor on a second connection to the test database, as another process would have."""
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with other.cursor() as cursor:
            yield cursor
    finally:
        other.close()


def _run(request) -> None:
    execute_request(request.pk, sleep=lambda seconds: None)
    request.refresh_from_db()


def _describe(aws, image_id: str, region: str = REGION) -> dict | None:
    images = ec2_client(aws, region).describe_images(
        ImageIds=[image_id], IncludeDeprecated=True, IncludeDisabled=True
    )["Images"]
    return images[0] if images else None


def test_it_deregisters_exactly_once_and_marks_the_inventory(aws, requester, approver):
    ids = [register_image(aws, f"old-{n}") for n in range(3)]
    sync()
    request = ask(requester, "deregister", ids, parameters={"delete_snapshots": True})
    approve(approver, request)
    _run(request)
    assert request.status == RequestStatus.SUCCEEDED
    assert all(_describe(aws, i) is None for i in ids)
    assert len(aws.calls(action="DeregisterImage")) == 3
    for image_id in ids:
        row = image(image_id)
        assert row.state == ImageState.DEREGISTERED and row.gone_at is not None
    item = request.items.first()
    assert item.status == ItemStatus.SUCCEEDED
    assert item.response["DeleteSnapshotResults"]
    verbs = list(request_events(request).values_list("verb", flat=True))
    assert verbs.count("item.executed") == 3 and "request.completed" in verbs
    # Every verb execution writes is one the audit log's verb filter offers.
    assert set(verbs) <= set(AuditVerb.values), set(verbs) - set(AuditVerb.values)


def test_it_running_again_does_not_mutate_twice(aws, requester, approver):
    image_id = register_image(aws, "old")
    sync()
    request = ask(requester, "deregister", [image_id])
    approve(approver, request)
    _run(request)
    _run(request)
    execute_request(request.pk)
    assert len(aws.calls(action="DeregisterImage")) == 1


def test_it_deprecates_and_cancels_deprecation(aws, requester, approver):
    image_id = register_image(aws, "web-1")
    sync()
    when = datetime.now(UTC) + timedelta(days=30, seconds=20)
    request = ask(requester, "deprecate", [image_id], parameters={"deprecate_at": when})
    approve(approver, request)
    _run(request)
    assert request.status == RequestStatus.SUCCEEDED
    expected = when.replace(second=0, microsecond=0) + timedelta(
        minutes=1 if when.second >= 30 else 0
    )
    aws_time = _describe(aws, image_id)["DeprecationTime"]
    assert datetime.fromisoformat(aws_time.replace("Z", "+00:00")) == expected
    assert image(image_id).deprecation_time == expected

    cancel = ask(requester, "cancel_deprecation", [image_id])
    approve(approver, cancel)
    _run(cancel)
    assert cancel.status == RequestStatus.SUCCEEDED
    assert "DeprecationTime" not in _describe(aws, image_id)
    assert image(image_id).deprecation_time is None


def test_it_disables_a_shared_image_and_enables_it_again(aws, requester, approver):
    image_id = register_image(aws, "base")
    ec2_client(aws).modify_image_attribute(
        ImageId=image_id, LaunchPermission={"Add": [{"UserId": "210987654321"}]}
    )
    sync()
    refresh_consumers(image(image_id))  # a shared image's use by others must be known
    request = ask(requester, "disable", [image_id])
    preview = request.items.get().preview
    assert preview["blocked"] == ""
    approve(approver, request)
    _run(request)
    assert request.status == RequestStatus.SUCCEEDED
    assert _describe(aws, image_id)["State"] == "disabled"
    assert image(image_id).state == ImageState.DISABLED

    enable = ask(requester, "enable", [image_id])
    approve(approver, enable)
    _run(enable)
    assert enable.status == RequestStatus.SUCCEEDED
    assert _describe(aws, image_id)["State"] == "available"
    assert image(image_id).state == ImageState.AVAILABLE


def test_it_restores_a_deregistered_image_from_the_recycle_bin(aws, requester, approver):
    aws.client("rbin", REGION).create_rule(
        ResourceType="EC2_IMAGE",
        RetentionPeriod={"RetentionPeriodValue": 7, "RetentionPeriodUnit": "DAYS"},
    )
    image_id = register_image(aws, "keep-me")
    sync()
    request = ask(requester, "deregister", [image_id])
    preview = request.items.get().preview
    assert preview["recycle_bin"].startswith("retained 7 days")
    assert preview["undo"] == "Restore from the Recycle Bin within 7 days"
    approve(approver, request)
    _run(request)
    assert image(image_id).gone_at is not None

    restore = ask(requester, "restore", [image_id], reason="deleted by mistake")
    approve(approver, restore)
    _run(restore)
    assert restore.status == RequestStatus.SUCCEEDED, restore.items.get().error
    assert _describe(aws, image_id) is not None
    assert image(image_id).gone_at is None


def test_it_copies_to_other_regions(aws, requester, approver, settings):
    settings.SYNC_REGIONS = [REGION, OTHER_REGION]
    image_id = register_image(aws, "golden")
    sync()
    request = ask(requester, "copy", [image_id], parameters={"regions": [OTHER_REGION]})
    approve(approver, request)
    _run(request)
    assert request.status == RequestStatus.SUCCEEDED
    copy_id = request.items.get().response["Copies"][OTHER_REGION]
    assert _describe(aws, copy_id, OTHER_REGION)["Name"] == "golden"
    assert image(copy_id).region == OTHER_REGION


def test_it_marks_an_item_stale_when_the_image_drifted(aws, requester, approver):
    unused, other = register_image(aws, "app-a"), register_image(aws, "app-b")
    sync()
    request = ask(requester, "deregister", [unused, other])
    approve(approver, request)
    launch(aws, unused)  # newly in use between approval and execution
    ec2_client(aws).disable_image(ImageId=other)  # state drifted
    _run(request)
    assert request.status == RequestStatus.FAILED
    items = {item.ami_id: item for item in request.items.all()}
    assert items[unused].status == ItemStatus.STALE and "newly in use" in items[unused].error
    assert items[other].status == ItemStatus.STALE and "state changed" in items[other].error
    assert aws.calls(action="DeregisterImage") == []
    assert _describe(aws, unused) is not None
    assert request_events(request).filter(verb="item.stale").count() == 2


def test_a_launch_configuration_made_after_approval_makes_the_item_stale(aws, requester, approver):
    image_id = register_image(aws, "legacy-1")
    sync()
    request = ask(requester, "deregister", [image_id])
    approve(approver, request)
    aws.client("autoscaling", REGION).create_launch_configuration(
        LaunchConfigurationName="legacy-lc", ImageId=image_id, InstanceType="t3.micro"
    )
    _run(request)
    item = request.items.get()
    assert item.status == ItemStatus.STALE
    assert item.error == "newly in use by launch_configuration:legacy-lc"
    assert aws.calls(action="DeregisterImage") == []
    assert _describe(aws, image_id)["State"] == "available"


def test_a_launch_template_made_after_approval_is_seen_without_image_references(
    aws, requester, approver
):
    """An endpoint without DescribeImageReferences: template versions are read instead."""
    aws.set_fault("unsupported", action="DescribeImageReferences")
    image_id = register_image(aws, "web-1")
    sync()
    request = ask(requester, "disable", [image_id])
    approve(approver, request)
    template_id = ec2_client(aws).create_launch_template(
        LaunchTemplateName="web", LaunchTemplateData={"ImageId": image_id}
    )["LaunchTemplate"]["LaunchTemplateId"]
    _run(request)
    item = request.items.get()
    assert item.status == ItemStatus.STALE
    assert item.error == f"newly in use by launch_template:{template_id}"
    assert aws.calls(action="DisableImage") == []
    assert _describe(aws, image_id)["State"] == "available"


def test_it_marks_an_item_stale_when_the_image_is_gone(aws, requester, approver):
    image_id = register_image(aws, "app-a")
    sync()
    request = ask(requester, "disable", [image_id])
    approve(approver, request)
    ec2_client(aws).deregister_image(ImageId=image_id)
    _run(request)
    item = request.items.get()
    assert item.status == ItemStatus.STALE and item.error == "the image is gone"


def test_it_deregisters_an_image_in_use_only_with_the_approved_override(aws, requester, approver):
    image_id = register_image(aws, "busy")
    instance = launch(aws, image_id)
    sync()
    request = ask(
        requester,
        "deregister",
        [image_id],
        override_in_use=True,
        override_reason="the instance is being retired today",
    )
    assert request.items.get().observed["usage"] == [f"instance:{instance}"]
    approve(approver, request)
    _run(request)
    assert request.status == RequestStatus.SUCCEEDED
    assert _describe(aws, image_id) is None


def test_it_retries_throttling_and_still_mutates_once(aws, requester, approver):
    image_id = register_image(aws, "app-a")
    sync()
    request = ask(requester, "deregister", [image_id])
    approve(approver, request)
    aws.set_fault("throttle", action="DeregisterImage", share=0.6, seed=3)
    _run(request)
    assert request.status == RequestStatus.SUCCEEDED
    answered = aws.calls(action="DeregisterImage", include_faulted=False)
    assert len(answered) == 1


def test_it_fails_an_item_aws_refuses(aws, requester, approver):
    image_id = register_image(aws, "protected")
    ec2_client(aws).enable_image_deregistration_protection(ImageId=image_id)
    sync()
    request = ask(requester, "deregister", [image_id])
    assert "protection" in " ".join(request.items.get().preview["warnings"])
    approve(approver, request)
    _run(request)
    item = request.items.get()
    assert request.status == RequestStatus.FAILED and item.status == ItemStatus.FAILED
    assert item.error
    assert _describe(aws, image_id) is not None


def test_it_reconciles_an_item_left_executing_without_calling_aws_again(aws, requester, approver):
    done, untouched = register_image(aws, "done"), register_image(aws, "untouched")
    sync()
    request = ask(requester, "deregister", [done, untouched])
    approve(approver, request)
    # A worker claimed both (before items had leases) and died: one after AWS acted, one
    # at a point nobody can tell.
    ec2_client(aws).deregister_image(ImageId=done)
    request.status = RequestStatus.EXECUTING
    request.save()
    old = datetime.now(UTC) - timedelta(hours=1)
    RequestItem.objects.filter(request=request).update(status=ItemStatus.EXECUTING, claimed_at=old)
    aws.clear_calls()

    assert reconcile_items() == 2
    items = {item.ami_id: item for item in request.items.all()}
    assert items[done].status == ItemStatus.SUCCEEDED and items[done].response["reconciled"]
    assert items[untouched].status == ItemStatus.NEEDS_REVIEW  # never "failed" on a guess
    assert aws.calls(action="DeregisterImage") == []
    request.refresh_from_db()
    assert request.status == RequestStatus.NEEDS_REVIEW
    assert image(done).gone_at is not None


def test_it_refuses_to_run_a_request_altered_after_approval(aws, requester, approver):
    image_id = register_image(aws, "old-build")
    sync()
    request = ask(requester, "deregister", [image_id])
    approve(approver, request)
    RequestItem.objects.filter(request=request).update(observed={"state": "available"})
    _run(request)
    item = request.items.get()
    assert request.status == RequestStatus.FAILED and "fingerprint" in item.error
    assert aws.calls(action="DeregisterImage") == []


def test_it_tells_the_requester_when_execution_finished(
    aws, requester, approver, django_capture_on_commit_callbacks, eager_celery
):
    from django.core import mail

    image_id = register_image(aws, "old-build")
    sync()
    request = ask(requester, "deregister", [image_id])
    approve(approver, request)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        _run(request)
    assert [m.to for m in mail.outbox] == [[requester.email]]
    assert "is succeeded" in mail.outbox[0].subject and "1 succeeded" in mail.outbox[0].body


def test_it_runs_each_account_and_region_as_its_own_task(
    aws, requester, approver, settings, eager_celery
):
    from lifecycle.tasks import execute_request as execute_task

    settings.SYNC_REGIONS = [REGION, OTHER_REGION]
    ids = [register_image(aws, "east-old"), register_image(aws, "west-old", OTHER_REGION)]
    sync()
    request = ask(requester, "deregister", ids)
    approve(approver, request)
    assert execute_task.delay(request.pk).get() == "fanned out"
    request.refresh_from_db()
    assert request.status == RequestStatus.SUCCEEDED
    regions = {call["region"] for call in aws.calls(action="DeregisterImage")}
    assert regions == {REGION, OTHER_REGION}


def test_a_copy_made_while_its_region_syncs_is_left_to_the_sync(aws, requester, approver, settings):
    """A sync copies the images it found new straight into the table: an execution must not
    insert one of them meanwhile. It leaves the copy to the sync (this one or the next)."""
    settings.SYNC_REGIONS = [REGION, OTHER_REGION]
    image_id = register_image(aws, "golden")
    sync()
    request = ask(requester, "copy", [image_id], parameters={"regions": [OTHER_REGION]})
    approve(approver, request)
    account_id = image(image_id).account.account_id
    with other_session() as session:
        key = sync_lock_key(account_id, OTHER_REGION)
        session.execute("SELECT pg_try_advisory_lock(%s)", [key])
        assert session.fetchone()[0]
        _run(request)

    assert request.status == RequestStatus.SUCCEEDED
    copy_id = request.items.get().response["Copies"][OTHER_REGION]
    assert not Image.objects.filter(image_id=copy_id).exists()
    sync()
    assert image(copy_id).region == OTHER_REGION


# Execution is fenced and nothing is lost (invariants 4 and 10 in docs/architecture.md): a worker
# calls AWS only while it holds its item's lease; the reconciler waits for the lease to expire and
# then settles by reading AWS, releases items no mutation went out for, finds copies by their
# ClientToken, and says "needs review" where it cannot prove what happened; an error in one item
# settles that item and the others go on.
OTHER_ACCOUNT = "210987654321"


def no_sleep(seconds: float) -> None:
    return None


@pytest.fixture
def approved(aws, requester, approver):
    """An approved deregistration of one image, started, its item claimed by a worker."""
    image_id = register_image(aws, "old-build")
    sync()
    request = ask(requester, "deregister", [image_id])
    approve(approver, request)
    start_request(request.pk)
    item = RequestItem.objects.select_related("image__account").get(request=request)
    item.lease_token = claim_item(item.pk)
    aws.clear_calls()
    return request, item, image_id


def expire_lease(item: RequestItem, sent: bool = False) -> None:
    past = timezone.now() - timedelta(seconds=1)
    RequestItem.objects.filter(pk=item.pk).update(
        lease_expires_at=past, mutation_sent_at=past if sent else None
    )


def still_there(aws, image_id: str) -> bool:
    return bool(ec2_client(aws).describe_images(ImageIds=[image_id])["Images"])


def test_a_worker_whose_lease_expired_never_calls_aws(aws, approved):
    request, item, image_id = approved
    expire_lease(item)

    run_item(item, request, Sessions("test"), no_sleep)

    assert aws.calls(action="DeregisterImage") == []
    assert RequestItem.objects.get(pk=item.pk).status == ItemStatus.EXECUTING
    assert still_there(aws, image_id)


def test_a_long_wait_keeps_the_lease_by_its_heartbeat(aws, approved):
    """Pacing or throttling may make a worker wait longer than a lease lasts: the heartbeat
    renews it during the wait, so the call still goes out once (and the lease never lapses)."""
    from lifecycle.services.execution import heartbeat, hold_lease, lease_seconds

    _, item, _ = approved
    expiries = []

    def aging_sleep(seconds: float) -> None:  # the time passes for the lease, not for the test
        RequestItem.objects.filter(pk=item.pk).update(
            lease_expires_at=F("lease_expires_at") - timedelta(seconds=seconds)
        )
        expiries.append(RequestItem.objects.get(pk=item.pk).lease_expires_at)
        assert expiries[-1] > timezone.now(), "the lease lapsed during the wait"

    heartbeat(item, aging_sleep)(5 * lease_seconds())

    assert len(expiries) == 15
    hold_lease(item)  # still this worker's: it may call AWS


def test_the_reconciler_leaves_an_item_whose_worker_holds_its_lease(aws, approved):
    _, item, image_id = approved
    # Claimed an hour ago, but its worker renewed the lease just now: it is alive.
    RequestItem.objects.filter(pk=item.pk).update(claimed_at=timezone.now() - timedelta(hours=1))

    assert reconcile_items() == 0

    assert RequestItem.objects.get(pk=item.pk).status == ItemStatus.EXECUTING
    assert still_there(aws, image_id)


def test_it_releases_an_item_no_mutation_went_out_for_and_runs_it_once(aws, approved, eager_celery):
    request, item, image_id = approved
    expire_lease(item)

    assert reconcile_items() == 1
    assert RequestItem.objects.get(pk=item.pk).status == ItemStatus.PENDING
    resume_requests()  # queues the request again; runs here (eager)

    assert RequestItem.objects.get(pk=item.pk).status == ItemStatus.SUCCEEDED
    assert LifecycleRequest.objects.get(pk=request.pk).status == RequestStatus.SUCCEEDED
    assert len(aws.calls(action="DeregisterImage")) == 1
    assert not still_there(aws, image_id)


def test_it_asks_for_review_when_a_sent_call_shows_no_effect(
    aws, approved, requester, approver, django_capture_on_commit_callbacks, eager_celery
):
    request, item, _ = approved
    expire_lease(item, sent=True)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert reconcile_items() == 1

    item.refresh_from_db()
    assert item.status == ItemStatus.NEEDS_REVIEW and "check the image in AWS" in item.error
    assert LifecycleRequest.objects.get(pk=request.pk).status == RequestStatus.NEEDS_REVIEW
    assert aws.calls(action="DeregisterImage") == []
    assert mail.outbox[0].to == sorted([requester.email, approver.email])
    listed = signed_in(requester).get(reverse("lifecycle:request_list"), {"status": "needs_review"})
    assert f"#{request.pk}" in listed.content.decode()


def test_a_copy_keeps_the_copies_made_before_a_later_region_failed(aws, requester, approver):
    image_id = register_image(aws, "golden")
    sync()
    regions = [OTHER_REGION, "us-west-2"]  # copied in this order
    request = ask(requester, "copy", [image_id], parameters={"regions": regions})
    approve(approver, request)
    aws.set_fault("outage", region="us-west-2")

    execute_request(request.pk, sleep=no_sleep)

    item = RequestItem.objects.get(request=request)
    assert item.status == ItemStatus.FAILED
    made = item.response["Copies"]
    assert list(made) == [OTHER_REGION]
    assert ec2_client(aws, OTHER_REGION).describe_images(ImageIds=[made[OTHER_REGION]])["Images"]


def test_the_reconciler_finds_a_copy_by_its_client_token(aws, requester, approver):
    image_id = register_image(aws, "golden")
    sync()
    request = ask(requester, "copy", [image_id], parameters={"regions": [OTHER_REGION]})
    approve(approver, request)
    start_request(request.pk)
    item = RequestItem.objects.get(request=request)
    claim_item(item.pk)
    # The worker's CopyImage went out and AWS made the copy; the worker died before recording.
    made = ec2_client(aws, OTHER_REGION).copy_image(
        SourceImageId=image_id,
        SourceRegion=REGION,
        Name="golden",
        Description=f"Copy of {image_id} from {REGION} (request #{request.pk})",
        ClientToken=client_token(item, OTHER_REGION),
    )["ImageId"]
    expire_lease(item, sent=True)

    assert reconcile_items() == 1

    item.refresh_from_db()
    assert item.status == ItemStatus.SUCCEEDED
    assert item.response["Copies"] == {OTHER_REGION: made}
    copies = ec2_client(aws, OTHER_REGION).describe_images(Owners=["self"])["Images"]
    assert [c["ImageId"] for c in copies] == [made]


def test_an_item_whose_role_cannot_be_assumed_fails_alone(aws, requester, approver, settings):
    Account.objects.create(account_id="123456789012", name="tools")
    Account.objects.create(
        account_id=OTHER_ACCOUNT, role_arn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/r"
    )
    mine = register_image(aws, "mine")
    theirs = register_ebs_image(
        aws.client("ec2", REGION, account_id=OTHER_ACCOUNT), "theirs", REGION, 8, None
    )
    sync()
    request = ask(requester, "deregister", [mine, theirs])
    approve(approver, request)
    aws.set_fault("deny", account_id=OTHER_ACCOUNT, scope="assume_role")

    execute_request(request.pk, sleep=no_sleep)

    items = {i.ami_id: i for i in RequestItem.objects.filter(request=request)}
    assert items[mine].status == ItemStatus.SUCCEEDED
    assert items[theirs].status == ItemStatus.FAILED and "AccessDenied" in items[theirs].error
    assert LifecycleRequest.objects.get(pk=request.pk).status == RequestStatus.PARTLY_FAILED

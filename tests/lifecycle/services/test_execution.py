"""Execution is fenced and nothing is lost (invariants 4 and 10 in docs/architecture.md): a worker
calls AWS only while it holds its item's lease; the reconciler waits for the lease to expire and
then settles by reading AWS, releases items no mutation went out for, finds copies by their
ClientToken, and says "needs review" where it cannot prove what happened; an error in one item
settles that item and the others go on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from inventory.models import Account
from lifecycle.choices import ItemStatus, RequestStatus
from lifecycle.models import LifecycleRequest, RequestItem
from lifecycle.services.execution import (
    Sessions,
    claim_item,
    copy_token,
    execute_request,
    reconcile_items,
    resume_requests,
    run_item,
    start_request,
)
from tests.conftest import signed_in
from tests.lifecycle.conftest import (
    OTHER_REGION,
    REGION,
    approve,
    ask,
    ec2_client,
    register_image,
    sync,
)
from tests.sandbox_images import register_ebs_image

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
        ClientToken=copy_token(item, OTHER_REGION),
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

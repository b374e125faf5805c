"""Change Allowed AMIs: requested for one account+Region (not images), approved by another
person, executed by the worker (criteria replaced, state set), observed afterwards and audited;
refused where a declarative policy manages the setting."""

from __future__ import annotations

import pytest

from amidash.sandbox.extensions.allowed_images import set_allowed_images_setting
from amidash.sandbox.extensions.common import ec2_backend
from inventory.models import AllowedImagesSetting
from lifecycle.actions import ACTIONS
from lifecycle.choices import ItemStatus, RequestStatus
from lifecycle.models import AuditEvent, AuditSource
from lifecycle.services.execution import execute_request
from tests.amidash.sandbox.images import REGION
from tests.factories import approve, ask_allowed_images, sync

pytestmark = pytest.mark.django_db
ACCOUNT = "123456789012"
CRITERIA = [{"ImageProviders": ["amazon"], "ImageNames": ["al2023-*"]}]


def no_sleep(seconds: float) -> None:
    return None


def test_it_is_not_offered_on_image_pages(aws):
    spec = ACTIONS["allowed_images"]

    assert not spec.targets_images
    from inventory.registry import image_actions

    assert "allowed_images" not in {action.key for action in image_actions}


def test_an_approved_change_is_applied_observed_and_audited(aws, requester, approver):
    sync()
    request = ask_allowed_images(requester, criteria=CRITERIA)
    item = request.items.get()
    assert (item.image_id, item.account_id, item.region) == (None, ACCOUNT, REGION)

    approve(approver, request)
    execute_request(request.pk, sleep=no_sleep)

    request.refresh_from_db()
    item.refresh_from_db()
    assert request.status == RequestStatus.SUCCEEDED
    assert item.status == ItemStatus.SUCCEEDED and item.response["confirmed"] is True
    answer = aws.client("ec2").get_allowed_images_settings()
    assert (answer["State"], answer["ImageCriteria"]) == ("audit-mode", CRITERIA)
    stored = AllowedImagesSetting.objects.get(account_region__region=REGION)
    assert (stored.state, stored.criteria) == ("audit-mode", CRITERIA)
    executed = AuditEvent.objects.get(verb="item.executed", correlation_id=f"request:{request.pk}")
    assert (executed.target_type, executed.target_id) == ("allowed_images", f"{ACCOUNT}/{REGION}")
    assert executed.source == AuditSource.WORKER


def test_disabling_calls_disable(aws, requester, approver):
    ec2 = aws.client("ec2")
    ec2.enable_allowed_images_settings(AllowedImagesSettingsState="enabled")
    sync()
    request = ask_allowed_images(requester, state="disabled", criteria=CRITERIA)
    approve(approver, request)

    execute_request(request.pk, sleep=no_sleep)

    assert ec2.get_allowed_images_settings()["State"] == "disabled"


def test_a_change_made_in_aws_since_the_request_makes_it_stale(aws, requester, approver):
    sync()
    request = ask_allowed_images(requester, criteria=CRITERIA)
    approve(approver, request)
    aws.client("ec2").enable_allowed_images_settings(AllowedImagesSettingsState="enabled")

    execute_request(request.pk, sleep=no_sleep)

    item = request.items.get()
    assert item.status == ItemStatus.STALE
    assert "state changed from disabled to enabled" in item.error
    assert aws.client("ec2").get_allowed_images_settings().get("ImageCriteria", []) == []


def test_a_policy_taking_over_after_approval_makes_it_stale(aws, requester, approver):
    sync()
    request = ask_allowed_images(requester, criteria=CRITERIA)
    approve(approver, request)
    set_allowed_images_setting(ec2_backend(ACCOUNT, REGION), "enabled", [], "declarative-policy")

    execute_request(request.pk, sleep=no_sleep)

    item = request.items.get()
    assert item.status == ItemStatus.STALE and "declarative policy" in item.error


def test_an_interrupted_change_is_settled_by_reading_the_setting(aws, requester, approver):
    from datetime import timedelta

    from django.utils import timezone

    from lifecycle.models import RequestItem
    from lifecycle.services.execution import reconcile_items, start_request

    sync()
    request = ask_allowed_images(requester, criteria=CRITERIA)
    approve(approver, request)
    start_request(request.pk)
    ec2 = aws.client("ec2")  # the worker's calls went out, then it died
    ec2.replace_image_criteria_in_allowed_images_settings(ImageCriteria=CRITERIA)
    ec2.enable_allowed_images_settings(AllowedImagesSettingsState="audit-mode")
    past = timezone.now() - timedelta(hours=1)
    RequestItem.objects.filter(request=request).update(
        status=ItemStatus.EXECUTING,
        claimed_at=past,
        lease_token="dead-worker",
        lease_expires_at=past,
        mutation_sent_at=past,
    )

    assert reconcile_items() == 1

    item = request.items.get()
    assert item.status == ItemStatus.SUCCEEDED and item.response["reconciled"] is True
    stored = AllowedImagesSetting.objects.get(account_region__region=REGION)
    assert (stored.state, stored.criteria) == ("audit-mode", CRITERIA)

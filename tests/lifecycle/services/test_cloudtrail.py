"""Who made the changes a sync observed: CloudTrail's answer joined into the audit log as new
events that name the observation (never an edit of it)."""

from __future__ import annotations

from datetime import timedelta

import boto3
import pytest
from django.utils import timezone

from amidash.sandbox import faults
from inventory.models import AccountRegion, Image
from inventory.services.launch_permissions import refresh_launch_permissions
from lifecycle.models import AuditEvent, AuditVerb
from lifecycle.services.audit_verification import verify_audit_chain
from lifecycle.services.cloudtrail import (
    NOT_FOUND,
    NOT_LOOKED_UP,
    describe_outcome,
    expected_event_names,
    look_up_observations,
    outcomes_for,
)
from lifecycle.services.execution import execute_request
from lifecycle.services.report_figures import ReportScope, compute_figures
from tests.amidash.sandbox.images import REGION, register_image
from tests.factories import approve, ask, create_account, last_audit_sequence, sync

ACCOUNT = "123456789012"  # the sandbox's default account, registered by the first sync
OPERATOR_ADDRESS = "198.51.100.23"


@pytest.fixture(autouse=True)
def quick_lookups(settings):
    settings.CLOUDTRAIL_LOOKUPS_PER_SECOND = 2.0
    settings.AWS_RETRY_MAX_ATTEMPTS = 1  # a throttled look-up answers at once


@pytest.fixture
def operator_ec2(aws):
    """EC2 as an engineer of the account would use it by hand: an IAM user's access key."""
    iam = aws.client("iam")
    iam.create_user(UserName="jordan.ops")
    key = iam.create_access_key(UserName="jordan.ops")["AccessKey"]
    session = boto3.session.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    ec2 = aws.client("ec2", REGION, session=session)
    ec2.meta.events.register_first(
        "before-sign.*.*",
        lambda request, **_: request.headers.__setitem__("X-Forwarded-For", OPERATOR_ADDRESS),
    )
    return ec2


def observed(first: int, verb: str) -> AuditEvent:
    return AuditEvent.objects.get(sequence__gt=first, verb=verb)


def look_up(first: int, **options):
    return look_up_observations(
        observations=AuditEvent.objects.filter(sequence__gt=first), sleep=lambda s: None, **options
    )


def test_it_names_the_principal_time_and_address_of_an_outside_change(aws, operator_ec2):
    image_id = register_image(aws, "web-1")
    sync()
    first = last_audit_sequence()
    operator_ec2.disable_image(ImageId=image_id)
    sync()
    change = observed(first, AuditVerb.IMAGE_STATE_CHANGED)

    summary = look_up(first)

    assert (summary.found, summary.not_found, summary.retry) == (1, 0, 0)
    outcome = outcomes_for([change.sequence])[change.sequence]
    assert outcome.verb == AuditVerb.CLOUDTRAIL_FOUND
    assert outcome.target_id == image_id and outcome.correlation_id == change.correlation_id
    after = outcome.after
    assert after["observes"] == change.sequence
    assert after["event_name"] == "DisableImage"
    assert after["principal_type"] == "IAMUser"
    assert after["principal_arn"] == f"arn:aws:iam::{ACCOUNT}:user/jordan.ops"
    assert after["username"] == "jordan.ops" and after["source_ip"] == OPERATOR_ADDRESS
    assert after["event_time"] <= change.occurred_at.isoformat()
    assert "jordan.ops" in describe_outcome(outcome) and OPERATOR_ADDRESS in describe_outcome(
        outcome
    )
    # The observation is untouched, the chain intact, and a second pass looks nothing up again.
    assert AuditEvent.objects.get(sequence=change.sequence).after == change.after
    assert verify_audit_chain().ok
    assert look_up(first).found == 0


def test_it_says_not_found_when_cloudtrail_has_no_such_event(aws):
    image_id = register_image(aws, "web-1")
    sync()
    first = last_audit_sequence()
    with faults.suspended():  # a change CloudTrail never saw
        aws.client("ec2", REGION).deregister_image(ImageId=image_id)
    sync()
    change = observed(first, AuditVerb.IMAGE_GONE)

    summary = look_up(first)

    assert (summary.found, summary.not_found) == (0, 1)
    outcome = outcomes_for([change.sequence])[change.sequence]
    assert outcome.verb == AuditVerb.CLOUDTRAIL_NOT_FOUND
    assert "DeregisterImage" in outcome.after["reason"]
    assert describe_outcome(outcome).startswith(NOT_FOUND)


def test_it_says_not_found_once_cloudtrail_forgot_the_event(aws, operator_ec2):
    """CloudTrail's event history keeps 90 days: an event older than that is not found."""
    image_id = register_image(aws, "web-1")
    sync()
    first = last_audit_sequence()
    operator_ec2.disable_image(ImageId=image_id)
    sync()
    aws.advance_clock(91 * 86400)

    summary = look_up(first)

    assert summary.not_found == 1
    change = observed(first, AuditVerb.IMAGE_STATE_CHANGED)
    assert outcomes_for([change.sequence])[change.sequence].verb == AuditVerb.CLOUDTRAIL_NOT_FOUND


def test_it_says_not_found_when_amidash_may_not_look_up_cloudtrail(aws, operator_ec2):
    image_id = register_image(aws, "web-1")
    sync()
    first = last_audit_sequence()
    operator_ec2.disable_image(ImageId=image_id)
    sync()
    aws.set_fault("deny", account_id=ACCOUNT, service="cloudtrail")

    summary = look_up(first)

    assert summary.not_found == 1
    change = observed(first, AuditVerb.IMAGE_STATE_CHANGED)
    reason = outcomes_for([change.sequence])[change.sequence].after["reason"]
    assert reason.startswith("no permission to look up: AccessDeniedException in LookupEvents")


def test_a_throttled_lookup_is_left_to_retry_and_never_said_not_found(aws, operator_ec2):
    image_id = register_image(aws, "web-1")
    sync()
    first = last_audit_sequence()
    operator_ec2.enable_image_deprecation(
        ImageId=image_id, DeprecateAt=aws.now() + timedelta(days=30)
    )
    sync()
    change = observed(first, AuditVerb.IMAGE_DEPRECATION_CHANGED)
    aws.set_fault("throttle", service="cloudtrail")

    summary = look_up(first)

    assert (summary.found, summary.not_found, summary.retry) == (0, 0, 1)
    assert "ThrottlingException" in summary.errors[0]
    assert outcomes_for([change.sequence]) == {}
    assert describe_outcome(None) == NOT_LOOKED_UP

    aws.clear_faults()
    assert look_up(first).found == 1
    outcome = outcomes_for([change.sequence])[change.sequence]
    assert outcome.after["event_name"] == "EnableImageDeprecation"


def test_it_names_who_changed_an_images_sharing_and_the_report_lists_it(aws, operator_ec2):
    """Made public (the sync sees it) and shared with an account (the paced launch-permission
    pass sees it), both by an engineer by hand: each observed once, each named."""
    image_id = register_image(aws, "web-1")
    sync()
    first = last_audit_sequence()
    operator_ec2.modify_image_attribute(
        ImageId=image_id, LaunchPermission={"Add": [{"Group": "all"}]}
    )
    sync()
    operator_ec2.modify_image_attribute(
        ImageId=image_id, LaunchPermission={"Add": [{"UserId": "444455556666"}]}
    )
    Image.objects.filter(image_id=image_id).update(
        launch_permissions_checked_at=timezone.now() - timedelta(days=30)
    )
    refresh_launch_permissions(AccountRegion.objects.get(region=REGION), per_second=1000)

    changes = list(
        AuditEvent.objects.filter(
            sequence__gt=first, verb=AuditVerb.IMAGE_SHARING_CHANGED
        ).order_by("sequence")
    )
    assert [(c.after["public"], c.after["shared_with"]) for c in changes] == [
        (True, []),
        (True, ["444455556666"]),
    ]
    assert look_up(first).found == 2

    for change in changes:
        after = outcomes_for([change.sequence])[change.sequence].after
        assert after["event_name"] == "ModifyImageAttribute"
        assert after["username"] == "jordan.ops" and after["source_ip"] == OPERATOR_ADDRESS
    now = timezone.now()
    figures = compute_figures(
        ReportScope(now - timedelta(hours=1), now + timedelta(hours=1)),
        AuditEvent.objects.filter(sequence__gt=first),
    )
    assert [(c.image_id, c.kind) for c in figures.outside] == [(image_id, "sharing")] * 2
    assert figures.outside_by_account == {(ACCOUNT, "sharing"): 2}
    assert all("jordan.ops" in c.cloudtrail for c in figures.outside)


def test_a_launch_permission_pass_that_observed_a_change_queues_the_lookup(
    aws, operator_ec2, eager_celery, django_capture_on_commit_callbacks
):
    image_id = register_image(aws, "web-1")
    sync()
    first = last_audit_sequence()
    operator_ec2.modify_image_attribute(
        ImageId=image_id, LaunchPermission={"Add": [{"UserId": "444455556666"}]}
    )
    Image.objects.update(launch_permissions_checked_at=timezone.now() - timedelta(days=30))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        refresh_launch_permissions(AccountRegion.objects.get(region=REGION), per_second=1000)

    assert callbacks
    change = observed(first, AuditVerb.IMAGE_SHARING_CHANGED)
    outcome = outcomes_for([change.sequence])[change.sequence]
    assert outcome.after["event_name"] == "ModifyImageAttribute"
    assert outcome.after["username"] == "jordan.ops"


def test_it_expects_the_call_that_makes_each_kind_of_change():
    def names(verb, before, after):
        return expected_event_names(AuditEvent(verb=verb, before=before, after=after))

    assert names(AuditVerb.IMAGE_GONE, {}, {}) == ("DeregisterImage",)
    assert names(AuditVerb.IMAGE_STATE_CHANGED, {"state": "available"}, {"state": "disabled"}) == (
        "DisableImage",
    )
    assert names(AuditVerb.IMAGE_STATE_CHANGED, {"state": "disabled"}, {"state": "available"}) == (
        "EnableImage",
    )
    assert names(
        AuditVerb.IMAGE_DEPRECATION_CHANGED, {}, {"deprecation_time": "2030-01-01T00:00:00Z"}
    ) == ("EnableImageDeprecation",)
    assert names(AuditVerb.IMAGE_DEPRECATION_CHANGED, {}, {"deprecation_time": None}) == (
        "DisableImageDeprecation",
    )
    assert names(AuditVerb.IMAGE_SHARING_CHANGED, {"public": False}, {"public": True}) == (
        "ModifyImageAttribute",
    )


def test_a_sync_that_observed_changes_queues_the_lookup(
    aws, operator_ec2, eager_celery, django_capture_on_commit_callbacks
):
    image_id = register_image(aws, "web-1")
    sync()
    first = last_audit_sequence()
    operator_ec2.deregister_image(ImageId=image_id)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        sync()

    assert callbacks  # the look-up was queued when the sync's transaction committed
    change = observed(first, AuditVerb.IMAGE_GONE)
    outcome = outcomes_for([change.sequence])[change.sequence]
    assert outcome.after["event_name"] == "DeregisterImage"
    assert outcome.after["username"] == "jordan.ops"


def test_an_amidash_change_appears_in_cloudtrail_under_its_source_identity(
    aws, requester, approver
):
    """amidash assumes the account's role with SourceIdentity request-<pk>.<requester>: CloudTrail
    names the mutation it made with that identity."""
    member = "210987654321"
    create_account(member, "member", role_arn=f"arn:aws:iam::{member}:role/amidash-write")
    image_id = register_image(aws, "web-1", account_id=member)
    sync()
    first = last_audit_sequence()
    request = ask(requester, "disable", [image_id])
    approve(approver, request)
    execute_request(request.pk, sleep=lambda seconds: None)
    executed = observed(first, AuditVerb.ITEM_EXECUTED)

    assert look_up(first).found == 1

    after = outcomes_for([executed.sequence])[executed.sequence].after
    assert after["event_name"] == "DisableImage"
    assert after["principal_type"] == "AssumedRole"
    assert after["principal_arn"].startswith(f"arn:aws:sts::{member}:assumed-role/amidash-write/")
    assert after["source_identity"] == f"request-{request.pk}.{requester.username}"

"""A plan becomes lifecycle requests that go through the ordinary approval and execution, in
the sandbox: the four-eyes rule against the last editor, notice, drift, in-use images."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from lifecycle.models import AuditEvent, LifecycleRequest
from lifecycle.services.requests import RequestError
from policies.models import Policy, PolicyProposal
from policies.services.plans import evaluate_and_save
from policies.services.proposals import propose
from tests.amidash.sandbox.images import ec2_client, launch, register_image
from tests.factories import approve, sync


def _policy(editor, **fields) -> Policy:
    fields.setdefault("deprecate", False)
    return Policy.objects.create(name="tidy", updated_by=editor, **fields)


def _propose(policy: Policy) -> list[LifecycleRequest]:
    plan, stored = evaluate_and_save(policy, None, "cli")
    return propose(plan, stored, None, "cli")


def test_it_proposes_one_request_per_stage_and_never_an_image_in_use(aws, requester):
    old = [register_image(aws, f"web-1.{n}") for n in range(3)]
    launch(aws, old[0])
    sync()
    made = _propose(_policy(requester, deregister_after_days=0))
    assert len(made) == 1
    request = made[0]
    assert request.action == "deregister" and request.requester == requester
    assert set(request.items.values_list("ami_id", flat=True)) == set(old[1:])
    assert request.provenance["policy"] == "tidy"
    assert PolicyProposal.objects.get().request == request
    timeline = AuditEvent.objects.filter(verb="policy.proposed", target_id=old[1]).get()
    assert timeline.after["policy"] == "tidy" and timeline.after["request"] == request.pk


def test_the_last_editor_may_not_approve_what_the_policy_proposed(aws, requester, approver):
    from amidash.roles import Role

    requester.groups.add(approver.groups.get(name=Role.APPROVER))
    register_image(aws, "web-1.0")
    sync()
    request = _propose(_policy(requester, deregister_after_days=0))[0]
    with pytest.raises(PermissionDenied, match="their own request"):
        approve(requester, request)


def test_an_open_request_is_not_proposed_twice(aws, requester):
    register_image(aws, "web-1.0")
    sync()
    policy = _policy(requester, deregister_after_days=0)
    assert len(_propose(policy)) == 1
    assert _propose(policy) == []


def test_approval_waits_for_the_notice_period_and_owners_are_told(
    aws, requester, approver, django_capture_on_commit_callbacks
):
    register_image(aws, "web-1.0", tags={"owner": "web-team"})
    register_image(aws, "web-2.0", tags={"owner": "ops@example.com"})
    sync()
    policy = _policy(requester, deregister_after_days=0, notice_days=3, owner_tag="owner")
    with django_capture_on_commit_callbacks(execute=True):
        request = _propose(policy)[0]
    assert request.approvable_from > timezone.now() + datetime.timedelta(days=2)
    assert sorted(m.to[0] for m in mail.outbox if "Policy tidy" in m.subject) == [
        "ops@example.com",
        "web@example.com",
    ]
    assert "It can be approved from" in mail.outbox[-1].body
    with pytest.raises(RequestError, match="owners were given notice"):
        approve(approver, request)
    request.refresh_from_db()
    assert request.status == "pending" and not request.decisions.exists()
    LifecycleRequest.objects.filter(pk=request.pk).update(
        approvable_from=timezone.now() - datetime.timedelta(minutes=1)
    )
    assert approve(approver, request).status == "approved"


def test_an_approved_proposal_executes_and_a_drifted_image_goes_stale(
    aws, requester, approver, eager_celery, transactional_db
):
    kept, drifted = register_image(aws, "web-1.0"), register_image(aws, "web-2.0")
    sync()
    request = _propose(_policy(requester, deregister_after_days=0))[0]
    launch(aws, drifted)  # something starts using it after the proposal
    approve(approver, request)
    request.refresh_from_db()
    statuses = dict(request.items.values_list("ami_id", "status"))
    assert statuses == {kept: "succeeded", drifted: "stale"}
    remaining = {i["ImageId"] for i in ec2_client(aws).describe_images(Owners=["self"])["Images"]}
    assert drifted in remaining and kept not in remaining

"""The schedule evaluates enabled policies only, stores their plans and proposes their actions."""

from __future__ import annotations

from lifecycle.models import AuditSource, LifecycleRequest
from policies.models import PolicyPlan
from policies.services.plans import evaluate_and_save
from policies.tasks import evaluate_enabled_policies, refresh_plans
from tests.amidash.sandbox.images import register_image
from tests.factories import create_policy, sync


def test_enabled_policies_propose_and_disabled_ones_do_nothing(aws, requester, eager_celery):
    register_image(aws, "web-1.0")
    sync()
    create_policy("off", deprecate=True, updated_by=requester)
    on = create_policy("on", enabled=True, deprecate=True, updated_by=requester)
    assert evaluate_enabled_policies() == 1
    assert list(PolicyPlan.objects.values_list("policy__name", flat=True)) == ["on"]
    request = LifecycleRequest.objects.get()
    assert request.action == "deprecate" and request.status == "pending"
    assert request.provenance["policy_id"] == on.pk


def test_a_sync_plans_only_the_policies_that_have_no_plan_yet(
    aws, requester, eager_celery, django_capture_on_commit_callbacks
):
    register_image(aws, "web-1.0")
    planned = create_policy("planned", deprecate=True, updated_by=requester)
    evaluate_and_save(planned, None, AuditSource.CLI)
    new = create_policy("new", deprecate=True, updated_by=requester)
    with django_capture_on_commit_callbacks(execute=True):
        sync()
    assert PolicyPlan.objects.filter(policy=planned).count() == 1
    plan = PolicyPlan.objects.get(policy=new)
    assert plan.source == AuditSource.SYSTEM and plan.totals["images"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        sync()
    assert PolicyPlan.objects.count() == 2


def test_the_schedule_refreshes_the_plans_of_disabled_policies(requester):
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["policies-refresh"]
    assert entry["task"] == "policies.tasks.refresh_plans"
    create_policy("off", deprecate=True, updated_by=requester)
    create_policy("on", enabled=True, deprecate=True, updated_by=requester)
    assert refresh_plans(**entry["kwargs"]) == 1
    assert list(PolicyPlan.objects.values_list("policy__name", flat=True)) == ["off"]

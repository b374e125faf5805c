"""The schedule evaluates enabled policies only, stores their plans and proposes their actions."""

from __future__ import annotations

from lifecycle.models import LifecycleRequest
from policies.models import PolicyPlan
from policies.tasks import evaluate_enabled_policies
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

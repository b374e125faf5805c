"""The demo's example policy and its plan on the Overview's cleanup card."""

from __future__ import annotations

from amidash.demo import ensure_demo_policy
from policies.models import Policy
from policies.tasks import refresh_plans
from tests.factories import create_listed_image, create_user, signed_in


def test_the_demo_policy_is_disabled_and_its_plan_is_on_the_cleanup_card(viewer):
    from amidash.roles import Role

    create_user("requester", Role.REQUESTER)
    for n in range(1, 6):
        create_listed_image(f"web-1.{n}.0", age_days=400 - n)
    assert ensure_demo_policy() and not ensure_demo_policy()
    policy = Policy.objects.get()
    assert not policy.enabled and policy.updated_by.username == "requester"
    assert refresh_plans() == 1
    page = signed_in(viewer).get("/").content.decode()
    assert 'id="policy-plans"' in page and "tidy-old-builds" in page
    assert "would deprecate 2, disable 0, deregister 0 of 5 images" in page

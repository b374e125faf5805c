"""End to end in Chromium: a requester writes a retention policy, reads its plan with reasons
and proposes it; an approver approves; the worker (eager here) deregisters the images in the
sandbox; each image's history names the policy."""

from __future__ import annotations

import pytest

from inventory.models import Image
from lifecycle.models import LifecycleRequest
from policies.models import Policy
from tests.e2e import test_lifecycle_flow as lifecycle_flow
from tests.e2e.browser import screenshot
from tests.factories import create_user

estate = lifecycle_flow.estate  # the same synced estate: three unused images, one in use
_context = lifecycle_flow._context

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_policy_is_written_planned_proposed_approved_and_executed(browser, live_server, estate):
    from amidash.roles import Role

    create_user("rita", Role.REQUESTER)
    create_user("arno", Role.APPROVER)
    aws, unused, busy = estate["aws"], estate["unused"], estate["busy"]

    context, page = _context(browser, live_server, "rita")
    page.goto("/policies/")
    page.get_by_role("link", name="New policy").click()
    page.get_by_label("Name", exact=True).fill("tidy-web")
    page.get_by_label("Description").fill("Old web builds nobody uses")
    page.get_by_label("Scope families").fill("web*")
    page.get_by_label("Deregister once disabled for (days)").fill("0")
    page.get_by_role("button", name="Save policy").click()
    page.get_by_text("Policy tidy-web is saved.").wait_for()
    page.get_by_role("button", name="Evaluate now").click()
    page.get_by_role("heading", name="Plan #").wait_for()
    assert page.locator("#total-deregister").inner_text() == "3"
    busy_row = page.locator(f'tr[data-image="{busy}"]')
    assert "in use by instance" in busy_row.inner_text()
    assert (
        "no earlier stage: deregister" in page.locator(f'tr[data-image="{unused[0]}"]').inner_text()
    )
    screenshot(page, "policy-plan", publish=True)
    page.get_by_role("button", name="Propose requests").click()
    page.get_by_text("Proposed 1 request(s)").wait_for()
    context.close()

    request = LifecycleRequest.objects.get()
    assert request.requester.username == "rita"
    context, page = _context(browser, live_server, "arno")
    page.goto(f"/requests/{request.pk}/")
    assert "Policy tidy-web, plan #" in page.locator("#provenance").inner_text()
    page.get_by_label("Comment (required to reject)").fill("Policy plan checked")
    page.get_by_role("button", name="Approve").click()
    page.get_by_text("Succeeded", exact=True).first.wait_for()

    remaining = aws.client("ec2").describe_images(Owners=["self"])["Images"]
    assert {i["ImageId"] for i in remaining} == {busy}
    image = Image.objects.get(image_id=unused[0])
    assert image.gone_at is not None
    page.goto(f"/audit/images/{image.pk}/timeline/")
    history = page.locator(".timeline").inner_text()
    assert "Policy tidy-web proposed to deregister" in history
    screenshot(page, "policy-timeline")
    context.close()
    assert Policy.objects.get().updated_by.username == "rita"

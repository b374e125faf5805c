"""End to end in Chromium: a requester reads the Allowed AMIs compliance page, tries criteria in
the simulator (a bad pattern is named, a good one shows what would be disallowed), proposes the
change; an approver approves it; the worker (eager here) changes the sandbox's setting; the
inventory and the audit log record it. Screenshots of the simulator and the approved request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from amidash.celery import app
from amidash.roles import Role
from amidash.sandbox import sandbox
from inventory.models import AllowedImagesSetting
from inventory.services.sync import run_sync
from lifecycle.models import AuditEvent, LifecycleRequest
from tests.amidash.sandbox.images import VENDOR, public_image
from tests.e2e.browser import screenshot, sign_in
from tests.factories import PASSWORD, create_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def estate(settings) -> Iterator[dict]:
    """Instances on two public images of another account; Allowed AMIs in audit mode allowing
    only golden-* images; synced. Celery runs tasks eagerly after commit."""
    settings.SYNC_REGIONS = ["us-east-1"]
    settings.LIFECYCLE_APPROVALS_REQUIRED = {}
    settings.LIFECYCLE_MUTATIONS_PER_SECOND = 100.0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    with sandbox() as aws:
        golden, scratch = public_image(aws, "golden-2026.05"), public_image(aws, "scratch-7")
        ec2 = aws.client("ec2")
        for image_id in (golden, scratch, scratch):
            ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1)
        ec2.replace_image_criteria_in_allowed_images_settings(
            ImageCriteria=[{"ImageNames": ["golden-*"]}]
        )
        ec2.enable_allowed_images_settings(AllowedImagesSettingsState="audit-mode")
        run_sync(None)
        aws.clear_calls()
        yield {"aws": aws, "golden": golden, "scratch": scratch}
    app.conf.task_always_eager = eager


def _context(browser, live_server, username: str):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page, username, PASSWORD)
    return context, page


def _simulate(page, providers: str, names: str) -> None:
    page.get_by_label("Criterion 1: providers").fill(providers)
    page.get_by_label("Criterion 1: name patterns").fill(names)
    page.get_by_role("button", name="Simulate").click()


def test_it_simulates_proposes_approves_and_applies_an_allowed_amis_change(
    browser, live_server, estate
):
    create_user("rita", Role.REQUESTER)
    create_user("arno", Role.APPROVER)
    aws = estate["aws"]

    context, page = _context(browser, live_server, "rita")
    page.goto("/compliance/")
    regions = page.get_by_role("region", name="Regions")
    assert "Audit mode" in regions.inner_text()
    current = page.get_by_role("region", name="Instances on disallowed images").inner_text()
    assert estate["scratch"] in current and estate["golden"] not in current

    page.get_by_label("Account and Region").select_option(label="123456789012 · us-east-1")
    _simulate(page, VENDOR, "g?")
    page.locator("#simulation").get_by_text("is not a valid name pattern").wait_for()
    assert page.url.endswith("/compliance/")  # htmx answered in place

    _simulate(page, VENDOR, "scratch-*")
    summary = page.locator("#simulation .result-summary")
    summary.wait_for()
    assert "1 image and 1 instance would be disallowed (1 image newly" in summary.inner_text()
    assert estate["golden"] in page.locator("#simulation table").inner_text()
    assert aws.client("ec2").get_allowed_images_settings()["State"] == "audit-mode"
    screenshot(page, "allowed-amis-simulator", publish=True)

    page.locator("#propose").get_by_label("State").select_option("enabled")
    page.locator("#propose").get_by_label("Reason").fill("Only scratch builds from the vendor")
    page.get_by_role("button", name="Request this change").click()
    page.get_by_text("is waiting for approval").wait_for()
    request = LifecycleRequest.objects.get()
    assert request.action == "allowed_images"
    context.close()

    context, page = _context(browser, live_server, "arno")
    page.goto("/requests/?scope=awaiting")
    page.get_by_role("link", name=f"#{request.pk}").click()
    # Wait for the request's page itself: reading the content while the click's navigation
    # is still under way reads an empty document.
    page.get_by_text("names scratch-*").first.wait_for()
    page.get_by_label("Comment (required to reject)").fill("Vendor scratch images only, agreed")
    page.get_by_role("button", name="Approve").click()
    page.get_by_text("Succeeded", exact=True).first.wait_for()
    screenshot(page, "allowed-amis-approved", publish=True)
    context.close()

    answer = aws.client("ec2").get_allowed_images_settings()
    expected = [{"ImageProviders": [VENDOR], "ImageNames": ["scratch-*"]}]
    assert (answer["State"], answer["ImageCriteria"]) == ("enabled", expected)
    stored = AllowedImagesSetting.objects.get()
    assert (stored.state, stored.criteria) == ("enabled", expected)
    executed = AuditEvent.objects.get(verb="item.executed", correlation_id=f"request:{request.pk}")
    assert (executed.target_type, executed.target_id) == (
        "allowed_images",
        "123456789012/us-east-1",
    )
    assert len(aws.calls(action="ReplaceImageCriteriaInAllowedImagesSettings")) == 1
    listed = aws.client("ec2").describe_images(ExecutableUsers=["all"])["Images"]
    assert {image["ImageId"] for image in listed} == {estate["scratch"]}

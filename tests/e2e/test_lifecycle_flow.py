"""End to end in Chromium: a requester asks to deregister three unused images, an approver
approves, the worker (eager here) deregisters them in the sandbox, the inventory marks them gone,
and an auditor verifies the whole log and exports their history. Screenshots of each step."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from amidash.celery import app
from amidash.roles import Role
from amidash.sandbox import sandbox
from inventory.models import Image
from inventory.services.sync import run_sync
from lifecycle.models import LifecycleRequest
from tests.amidash.sandbox.images import launch, register_image
from tests.e2e.browser import screenshot, sign_in
from tests.factories import PASSWORD, create_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def estate(settings) -> Iterator[dict]:
    """Three unused images and one in use, synced; Celery runs tasks eagerly after commit."""
    settings.SYNC_REGIONS = ["us-east-1"]
    settings.LIFECYCLE_APPROVALS_REQUIRED = {}
    settings.LIFECYCLE_MUTATIONS_PER_SECOND = 100.0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    with sandbox() as aws:
        unused = [register_image(aws, f"web-2023.0{n}") for n in range(1, 4)]
        busy = register_image(aws, "web-2024.01")
        launch(aws, busy)
        run_sync(None)
        yield {"aws": aws, "unused": unused, "busy": busy}
    app.conf.task_always_eager = eager


def _context(browser, live_server, username: str):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page, username, PASSWORD)
    return context, page


def test_it_requests_approves_executes_and_audits_a_cleanup(browser, live_server, estate):
    create_user("rita", Role.REQUESTER)
    create_user("arno", Role.APPROVER)
    create_user("audrey", Role.AUDITOR)
    aws, unused = estate["aws"], estate["unused"]

    context, page = _context(browser, live_server, "rita")
    page.goto("/images/")
    for image_id in unused:
        page.get_by_label(f"Select {image_id}").check()
    page.locator("#selection-action").select_option("deregister")
    page.get_by_role("button", name="Request…").click()
    page.get_by_role("heading", name="Request: Deregister of 3 images").wait_for()
    assert page.locator("table.preview tbody tr").count() == 3
    assert "nothing" in page.locator("table.preview tbody").inner_text()
    page.get_by_label("Reason").fill("Superseded by web-2024.01; unused for a year")
    page.get_by_label("Ticket reference").fill("OPS-42")
    screenshot(page, "lifecycle-request-preview", publish=True)
    page.get_by_role("button", name="Submit for approval").click()
    page.get_by_text("is waiting for approval").wait_for()
    request = LifecycleRequest.objects.get()
    assert "someone else must approve it" in page.content()
    context.close()

    context, page = _context(browser, live_server, "arno")
    page.goto("/requests/?scope=awaiting")
    page.get_by_role("link", name=f"#{request.pk}").click()
    assert page.locator("#fingerprint").inner_text() == request.fingerprint
    screenshot(page, "lifecycle-approval", publish=True)
    page.get_by_label("Comment (required to reject)").fill("Checked: nothing uses them")
    page.get_by_role("button", name="Approve").click()
    page.get_by_text("Succeeded", exact=True).first.wait_for()
    screenshot(page, "lifecycle-executed", publish=True)
    context.close()

    remaining = aws.client("ec2").describe_images(Owners=["self"])["Images"]
    assert {i["ImageId"] for i in remaining} == {estate["busy"]}
    for image in Image.objects.filter(image_id__in=unused):
        assert image.state == "deregistered" and image.gone_at is not None
    assert len(aws.calls(action="DeregisterImage")) == 3

    context, page = _context(browser, live_server, "audrey")
    page.goto("/audit/")
    page.get_by_label("Request #").fill(str(request.pk))
    page.get_by_role("button", name="Filter").click()
    page.locator("#audit-rows").get_by_text("item.executed").first.wait_for()
    page.get_by_role("button", name="Verify every event (on a worker)").click()
    page.locator("#verification").get_by_text("Audit log intact").wait_for()
    assert "Full (every event re-hashed from #1)." in page.locator("#verification").inner_text()
    screenshot(page, "lifecycle-audit", publish=True)
    with page.expect_download() as download:
        page.get_by_role("button", name="CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    context.close()
    verbs = [row["verb"] for row in rows]
    assert verbs.count("item.executed") == 3
    assert {"request.created", "request.approved", "request.completed"} <= set(verbs)
    executed = {row["target_id"] for row in rows if row["verb"] == "item.executed"}
    assert executed == set(unused)

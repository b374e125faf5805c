"""End to end in Chromium: sign in, read the overview, filter images, open one, watch a sync.

The data comes from a real sync of the sandbox's demo estate (five accounts, five Regions).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings

from amidash.demo import register_estate_accounts
from amidash.sandbox import sandbox
from amidash.sandbox.estate import estate_accounts, generate_estate
from inventory.models import ImageAncestry, SyncRun
from inventory.services import sync as sync_service
from tests.e2e.browser import screenshot, sign_in
from tests.factories import PASSWORD, create_user, sync_with_follow_ups

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DEMO_REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"]


def _register_estate_accounts() -> None:
    register_estate_accounts(estate_accounts(42, "demo"))


@pytest.fixture
def demo_estate(settings) -> Iterator[None]:
    settings.SYNC_REGIONS = DEMO_REGIONS
    with sandbox():
        generate_estate("demo", 42)
        _register_estate_accounts()
        yield


def test_it_signs_in_filters_images_and_opens_one(page, demo_estate) -> None:
    run = sync_with_follow_ups()  # the Inspector findings too, as a worker reads them
    assert run.status == "succeeded"
    create_user("rita", "Requester")
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    sign_in(page, "rita", PASSWORD)

    assert page.get_by_role("heading", level=1).inner_text() == "Overview"
    assert page.locator("svg.chart").count() >= 3
    page.get_by_text("current images").first.wait_for()
    page.locator("#overview-trend").get_by_text("As the inventory stood").wait_for()  # by htmx
    screenshot(page, "overview", publish=True)

    page.get_by_role("link", name="Images", exact=True).click()
    page.wait_for_load_state("networkidle")
    page.get_by_label("In use").select_option("no")
    page.wait_for_url(re.compile(r"in_use=no"))
    page.get_by_role("combobox", name="Region").select_option("eu-west-1")
    page.wait_for_url(re.compile(r"region=eu-west-1"))
    page.wait_for_load_state("networkidle")
    rows = page.locator("table.images tbody tr")
    assert rows.count() > 0
    regions = page.locator("table.images tbody tr td:nth-child(5)").all_inner_texts()
    assert set(regions) == {"eu-west-1"}
    assert "unused" in page.locator("table.images tbody").inner_text()
    screenshot(page, "images-filtered", publish=True, full_page=False)

    # The filtered view is a bookmarkable URL: loading it afresh gives the same rows.
    url = page.url
    first_ids = page.locator("table.images tbody a.mono").all_inner_texts()
    page.goto(url)
    assert page.locator("table.images tbody a.mono").all_inner_texts() == first_ids

    page.get_by_role("link", name="Reset").click()
    page.wait_for_load_state("networkidle")
    page.get_by_role("link", name="Used by").click()
    page.wait_for_url(re.compile(r"sort=-usage"))
    first = page.locator("table.images tbody a.mono").first
    image_id = first.inner_text()
    first.click()
    page.wait_for_load_state("networkidle")
    assert image_id in page.get_by_role("heading", level=1).inner_text()
    for heading in ("Fields", "What uses it", "Snapshots and storage", "Launch permissions"):
        assert page.get_by_role("heading", name=heading).is_visible()
    screenshot(page, "image-detail", publish=True)

    # A copy in the middle of a copy chain: its family tree names its source and its own copy.
    middle = (
        ImageAncestry.objects.filter(
            position=1,
            image__image_id__in=ImageAncestry.objects.values("ancestor_image_id"),
        )
        .select_related("image")
        .first()
    )
    assert middle is not None, "the demo estate has copy chains"
    copy = ImageAncestry.objects.filter(ancestor_image_id=middle.image.image_id).first()
    page.goto(f"/images/{middle.image.pk}/")
    tree = page.locator("ul.family-tree")
    assert middle.ancestor_image_id in tree.inner_text()
    assert copy.image.image_id in tree.inner_text()
    screenshot(page, "image-lineage", publish=True)
    # Everything above (htmx included) works under the Content-Security-Policy, unwidened.
    assert not [text for text in console if "Content Security Policy" in text], console


def test_it_watches_a_sync_finish(page, demo_estate, settings) -> None:
    settings.SYNC_REGIONS = ["us-east-1", "eu-west-1"]
    create_user("arno", "Approver")
    sign_in(page, "arno", PASSWORD)

    run = sync_service.create_run(None, source="web")
    pending = sync_service.prepare_run(run)
    assert pending
    page.goto(f"/sync/{run.pk}/")
    page.get_by_text("Regions done").wait_for()
    assert page.locator("progress").is_visible()
    screenshot(page, "sync-running", full_page=False)

    def work() -> None:
        try:
            for result in pending:
                sync_service.sync_result(result)
            sync_service.finish_run(run.pk)
        finally:
            from django.db import connection

            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=120)
    page.locator("#sync-run .run-status .badge.ok").wait_for(timeout=30_000)
    assert "succeeded" in page.locator("#sync-run .run-status").inner_text()
    assert page.locator("progress").count() == 0
    assert SyncRun.objects.get(pk=run.pk).status == "succeeded"
    screenshot(page, "sync-run", publish=True)


def test_it_starts_a_sync_with_the_button(page, demo_estate, settings) -> None:
    from amidash.celery import app

    settings.SYNC_REGIONS = ["us-east-1"]
    create_user("rita", "Requester")
    sign_in(page, "rita", PASSWORD)
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True  # the worker's job runs in the request: no broker needed
    try:
        page.goto("/sync/")
        page.get_by_label("Account").select_option("210987654321")
        page.get_by_role("button", name="Sync now").click()
        page.wait_for_url(re.compile(r"/sync/\d+/$"), timeout=60_000)
    finally:
        app.conf.task_always_eager = eager
    assert "succeeded" in page.locator("#sync-run .run-status").inner_text()
    assert "210987654321" in page.locator("#sync-run table").inner_text()
    assert django_settings.SYNC_REGIONS == ["us-east-1"]

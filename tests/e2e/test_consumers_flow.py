"""End to end in Chromium: a requester opens a shared image that another account runs, sees its
usage unknown, asks for a usage report (htmx; the worker is eager here), and sees the consuming
account with its counts; the request preview then shows it under "Other accounts"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from amidash.celery import app
from amidash.roles import Role
from amidash.sandbox import sandbox
from inventory.models import Image
from inventory.services.sync import run_sync
from tests.amidash.sandbox.images import ec2_client, register_image
from tests.e2e.browser import screenshot, sign_in
from tests.factories import PASSWORD, create_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PARTNER = "888877776666"


@pytest.fixture
def shared_image(settings) -> Iterator[str]:
    """A golden image shared with a partner that runs two instances of it; synced."""
    settings.SYNC_REGIONS = ["us-east-1"]
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    with sandbox() as aws:
        image_id = register_image(aws, "golden-2025.01")
        ec2_client(aws).modify_image_attribute(
            ImageId=image_id, LaunchPermission={"Add": [{"UserId": PARTNER}]}
        )
        ec2_client(aws, account_id=PARTNER).run_instances(ImageId=image_id, MinCount=2, MaxCount=2)
        run_sync(None)
        yield image_id
    app.conf.task_always_eager = eager


def test_it_reports_other_accounts_using_an_image(page, shared_image) -> None:
    create_user("rita", Role.REQUESTER)
    sign_in(page, "rita", PASSWORD)
    image = Image.objects.get(image_id=shared_image)

    page.goto(f"/images/{image.pk}/")
    card = page.locator("#consumers")
    assert "usage unknown" in card.inner_text()
    card.get_by_role("button", name="Request a usage report").click()
    card.get_by_text("Usage report requested").wait_for()
    page.reload()

    text = page.locator("#consumers").inner_text()
    assert PARTNER in text and "usage unknown" not in text
    assert "2 resources of other accounts do" in page.locator("#usage-heading + p").inner_text()
    screenshot(page, "image-consumers", publish=True)

    page.goto(f"/requests/new/?action=disable&image={image.pk}")
    row = page.locator("table.preview tbody tr").first
    assert f"{PARTNER}: 2 instances, 0 launch templates" in row.inner_text()
    assert "in use by 2 resource(s)" in row.inner_text()

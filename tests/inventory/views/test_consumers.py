"""The image page's consumers card and its "Request a usage report" button: anonymous, without
the permission, with it; what the report then shows."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from amidash.roles import Role
from inventory.models import ConsumerReport, ImageConsumer
from tests.amidash.sandbox.images import ec2_client, register_image
from tests.factories import (
    create_account,
    create_account_scope,
    create_image,
    create_user,
    image,
    signed_in,
    sync,
)

pytestmark = pytest.mark.django_db

CONSUMER = "777788889999"


@pytest.fixture
def requester_client(requester):
    return signed_in(requester)


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def _detail(image_row) -> str:
    return reverse("inventory:image_detail", args=[image_row.pk])


def _report_url(image_row) -> str:
    return reverse("inventory:image_consumer_report", args=[image_row.pk])


def test_it_lists_consumers_by_account_with_counts_and_report_time(viewer_client) -> None:
    reported = timezone.now() - timedelta(hours=2)
    row = create_image(shared_with=[CONSUMER], consumers_reported_at=reported)
    ImageConsumer.objects.create(
        image=row, account_id=CONSUMER, instances=3, launch_templates=1, reported_at=reported
    )

    text = _text(viewer_client.get(_detail(row)))

    assert "Other accounts using it" in text
    assert f"{CONSUMER} 3 1" in text
    assert f"Usage report of {reported:%Y-%m-%d %H:%M} UTC" in text
    assert "usage unknown" not in text
    assert "Request a usage report" not in text  # a viewer may not ask for one


def test_it_shows_usage_unknown_without_a_recent_report(viewer_client, settings) -> None:
    settings.CONSUMER_REPORT_MAX_AGE_HOURS = 24
    never = create_image(public=True)
    old = create_image(
        shared_with=[CONSUMER], consumers_reported_at=timezone.now() - timedelta(days=2)
    )
    private = create_image()

    assert "usage unknown No usage report yet" in _text(viewer_client.get(_detail(never)))
    assert "older than 24 h" in _text(viewer_client.get(_detail(old)))
    assert "Private: no other account can launch it" in _text(viewer_client.get(_detail(private)))


def test_anonymous_users_are_sent_to_sign_in(client) -> None:
    row = create_image(public=True)
    response = client.post(_report_url(row))
    assert response.status_code == 302 and "login" in response["Location"]
    assert not ConsumerReport.objects.exists()


def test_it_refuses_a_user_without_the_sync_permission(viewer_client) -> None:
    row = create_image(public=True)
    assert viewer_client.post(_report_url(row)).status_code == 403
    assert viewer_client.get(_report_url(row)).status_code == 405


def test_it_hides_an_image_outside_the_users_accounts(db) -> None:
    scoped = create_user("sam", Role.REQUESTER, all_accounts=False)
    create_account_scope(scoped, create_account("210987654321", name="other"))
    row = create_image(public=True)
    assert signed_in(scoped).post(_report_url(row)).status_code == 404
    assert not ConsumerReport.objects.exists()


def test_it_refuses_a_private_image_with_a_message(requester_client) -> None:
    row = create_image()
    response = requester_client.post(_report_url(row))
    assert response.status_code == 400
    assert "public or shared" in response.content.decode()


def test_it_asks_for_a_report_and_shows_its_consumers(
    aws, requester_client, eager_celery, django_capture_on_commit_callbacks
) -> None:
    image_id = register_image(aws, "golden")
    ec2_client(aws).modify_image_attribute(
        ImageId=image_id, LaunchPermission={"Add": [{"UserId": CONSUMER}]}
    )
    sync()
    ec2_client(aws, account_id=CONSUMER).run_instances(ImageId=image_id, MinCount=1, MaxCount=1)
    row = image(image_id)
    assert "Request a usage report" in _text(requester_client.get(_detail(row)))

    with django_capture_on_commit_callbacks(execute=True):
        response = requester_client.post(_report_url(row), headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert "Usage report requested" in _text(response)
    report = ConsumerReport.objects.get()
    assert report.status == "available" and report.requested_by == "rita"
    row.refresh_from_db()
    assert row.in_use and row.external_usage_count == 1
    assert f"{CONSUMER} 1 0" in _text(requester_client.get(_detail(row)))


def test_without_htmx_it_redirects_to_the_image_page(requester_client, eager_celery) -> None:
    row = create_image(public=True)
    response = requester_client.post(_report_url(row))
    assert response.status_code == 302 and response["Location"] == _detail(row)


def test_the_image_list_counts_other_accounts_resources_as_in_use(viewer_client) -> None:
    row = create_image(
        name="golden-3",
        shared_with=[CONSUMER],
        in_use=True,
        external_usage_count=3,
        consumers_reported_at=timezone.now(),
    )
    text = _text(viewer_client.get(reverse("inventory:image_list") + "?in_use=yes"))
    assert row.image_id in text and "3 in use" in text

"""The dashboards' figures read from the rollups: exact totals, today's deprecations, ages."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from amidash import pagination
from inventory import queries
from inventory.filtersets import image_conditions
from inventory.models import Image, ImageQ, age_in_days
from tests.factories import create_account, create_image

pytestmark = pytest.mark.django_db

FILTERS = [
    {},
    {"state": "available"},
    {"state": "deprecated"},
    {"state": "disabled"},
    {"state": "pending"},
    {"state": "deregistered"},
    {"deprecated": "yes"},
    {"deprecated": "no", "gone": "no"},
    {"account": "444455556666", "region": "eu-west-1"},
    {"in_use": "no", "exposure": "exposed"},
    {"in_use": "no", "min_age": 30, "max_age": 89},
    {"min_age": 365},
]


@pytest.fixture
def images(admin_user) -> list[Image]:
    now = timezone.now()
    other = create_account("444455556666", "dev")
    minute = datetime.timedelta(minutes=1)
    return [
        create_image(age_days=400, deprecation_time=now - datetime.timedelta(days=3)),
        create_image(age_days=5, deprecation_time=now - minute),  # deprecated today, by now
        create_image(age_days=5, deprecation_time=now + minute),  # later today: not yet
        create_image(age_days=60, deprecation_time=now + datetime.timedelta(days=2)),
        create_image(account=other, region="eu-west-1", state="disabled", in_use=True),
        create_image(account=other, region="eu-west-1", public=True, age_days=800),
        create_image(shared_with=["210987654321"], state="pending", age_days=None),
        create_image(gone_at=now, state="deregistered", age_days=90),
    ]


@pytest.mark.parametrize("filters", FILTERS)
def test_it_counts_the_exact_total_of_a_list_from_the_rollups(images, admin_user, filters):
    now = timezone.now()
    conditions = image_conditions(filters, now)
    expected = Image.objects.filter(conditions).count()
    assert queries.image_list_total(conditions, now, admin_user) == expected


def test_it_leaves_filters_no_grain_holds_to_the_list_count(images, admin_user) -> None:
    now = timezone.now()
    for filters in (
        {"q": "app"},
        {"tag_key": "team"},
        {"family": "app-server"},
        {"exposure": "private", "min_age": 30},  # no grain holds both
    ):
        assert queries.image_list_total(image_conditions(filters, now), now, admin_user) is None


def test_the_list_shows_an_exact_total_beyond_the_count_bound(
    images, admin_user, viewer_client, monkeypatch
) -> None:
    monkeypatch.setattr(pagination, "COUNT_BOUND", 3)
    shown = viewer_client.get("/images/").content.decode()
    assert "<strong>8</strong> images" in shown
    searched = viewer_client.get("/images/", {"q": "app-server"}).content.decode()
    assert "<strong>more than 3</strong> images" in searched


def test_the_overview_counts_the_images_deprecated_earlier_today(images, admin_user) -> None:
    figures = queries.estate_figures(timezone.now(), 90, admin_user)
    assert figures.totals["state_deprecated"] == Image.objects.in_state("deprecated").count() == 2
    assert figures.totals["state_available"] == Image.objects.in_state("available").count() == 3


def test_it_counts_age_in_whole_utc_calendar_days() -> None:
    midnight = datetime.datetime(2026, 3, 10, tzinfo=datetime.UTC)
    late = midnight - datetime.timedelta(minutes=1)
    assert age_in_days(late, midnight + datetime.timedelta(minutes=1)) == 1
    assert age_in_days(midnight, midnight + datetime.timedelta(hours=23)) == 0
    assert age_in_days(midnight + datetime.timedelta(days=2), midnight) == 0  # clock skew


def test_the_age_filter_and_an_images_age_agree(admin_user) -> None:
    now = timezone.now()
    today = datetime.datetime.combine(now.date(), datetime.time.min, tzinfo=datetime.UTC)
    for moment in (today - datetime.timedelta(days=29, seconds=1), today, now):
        create_image(creation_date=moment)
    for low, high in ((0, 1), (1, 30), (30, None), (29, 30)):
        listed = set(Image.objects.filter(ImageQ.aged(now, low, high)))
        assert listed == {
            image
            for image in Image.objects.all()
            if image.age_days >= low and (high is None or image.age_days < high)
        }

"""The overview: totals by state, usage, risk, cost and cleanup, grid, last sync."""

from __future__ import annotations

import re

from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import create_image

URL = "/"


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_it_shows_totals_by_state_with_numbers(viewer_client, estate) -> None:
    text = _text(viewer_client.get(URL))
    assert "6 current images" in text
    assert "4 available" in text
    assert "1 deprecated" in text
    assert "1 disabled" in text
    assert "1 gone" in text


def test_it_shows_usage_risk_and_cost(viewer_client, estate, settings) -> None:
    settings.STORAGE_PRICE_PER_GB_MONTH = 0.05
    body = viewer_client.get(URL).content.decode()
    text = _text(viewer_client.get(URL))
    assert "4 unused · 2 in use" in text
    assert "1 public" in text and "anyone can launch" in text
    assert "1 shared with other accounts" in text
    # 5 current images of 8 GiB and one of 30 GiB: 70 GiB at 0.05 USD.
    assert "70 GiB" in text and "$3.50 / month" in text
    assert 'aria-label="Images by state"' in body and "<svg" in body


def test_it_says_what_a_cleanup_of_old_unused_images_would_save(viewer_client, estate) -> None:
    text = _text(viewer_client.get(URL, {"older_than": "365"}))
    # Unused and older than a year: web-1.0.0 (30 GiB) and legacy-0.9 (8 GiB).
    assert "2 images hold 38 GiB" in text and "$1.90 per month" in text
    text = _text(viewer_client.get(URL, {"older_than": "90"}))
    assert "4 images hold 54 GiB" in text


def test_it_notices_a_bad_cleanup_age_and_uses_the_default(viewer_client, estate) -> None:
    response = viewer_client.get(URL, {"older_than": "-5"})
    assert response.status_code == 400
    assert "showing 90" in response.content.decode()


def test_it_shows_the_region_grid_and_the_failed_regions_of_the_last_sync(viewer_client, estate):
    text = _text(viewer_client.get(URL))
    assert "Regions \u00d7 state" in text
    assert "ap-south-1" in text and "eu-west-1" in text
    assert "1 Region failed" in text
    assert "444455556666 ap-south-1: RequestLimitExceeded" in text


def test_it_keeps_its_queries_constant_as_the_estate_grows(viewer_client, estate) -> None:
    from django.db import connection

    with CaptureQueriesContext(connection) as before:
        viewer_client.get(URL)
    for number in range(40):
        create_image(name=f"grow-{number}", region=["us-west-2", "eu-north-1"][number % 2])
    with CaptureQueriesContext(connection) as after:
        viewer_client.get(URL)
    assert (
        len(after.captured_queries) == len(before.captured_queries) <= 13
    )  # 13: whether the user sees every account, for the policies panel


def test_it_loads_the_trend_after_the_page_with_a_plain_link(viewer_client, estate) -> None:
    body = viewer_client.get(URL).content.decode()
    assert 'hx-get="/overview/trend/"' in body and 'hx-trigger="load"' in body
    assert '<a href="/overview/trend/">Show the trend</a>' in body


def test_it_shows_the_estate_as_each_run_left_it(viewer_client, estate) -> None:
    from django.utils import timezone

    from inventory.models import Image
    from tests.factories import create_sync_run

    # The estate's own run: 6 current images of 70 GiB, 1 gone.
    newest = estate["images"]["web_new"]
    Image.objects.filter(pk=newest.pk).update(gone_at=timezone.now(), state="deregistered")
    create_sync_run()  # 5 current (62 GiB), 2 gone
    create_image(name="grow", storage_gib=100)
    create_sync_run()  # 6 current (162 GiB), 2 gone
    response = viewer_client.get("/overview/trend/", headers={"HX-Request": "true"})
    text = _text(response)
    assert "<html" not in response.content.decode()
    assert "<svg" in response.content.decode()
    rows = re.findall(r"#\d+ \S+ \S+ (\d+) (\d+) (\d+)", text)
    assert [tuple(map(int, row)) for row in rows] == [(6, 1, 70), (5, 2, 62), (6, 2, 162)]


def test_it_reads_the_trend_from_the_runs_not_the_images(viewer_client, estate) -> None:
    from django.db import connection

    from inventory.models import Image
    from tests.factories import create_sync_run

    create_sync_run()
    Image.objects.all().delete()  # out of band: the snapshots keep what each run saw
    with CaptureQueriesContext(connection) as queries:
        text = _text(viewer_client.get("/overview/trend/"))
    assert re.findall(r"#\d+ \S+ \S+ (\d+) (\d+) (\d+)", text) == [("6", "1", "70")] * 2
    assert not any("inventory_image" in query["sql"] for query in queries.captured_queries)


def test_it_counts_images_with_critical_findings_and_those_not_scanned(viewer_client, estate):
    from inventory.choices import FindingsStatus
    from inventory.models import Image, ImageFindings

    now = timezone.now()
    first, second, third = Image.objects.filter(gone_at__isnull=True).order_by("pk")[:3]
    ImageFindings.objects.create(
        image=first, status=FindingsStatus.SCANNED, critical=2, high=1, checked_at=now
    )
    ImageFindings.objects.create(image=second, status=FindingsStatus.SCANNED, checked_at=now)
    ImageFindings.objects.create(
        image=third, status=FindingsStatus.NOT_SCANNED, reason="denied", checked_at=now
    )

    response = viewer_client.get(URL)

    text = _text(response)
    assert "1 with critical findings" in text and "1 with high findings" in text
    # 6 current images: 2 scanned; the other 4 (one refused, three never read) are unknown.
    assert "2 scanned · 4 not scanned" in text
    assert "?findings=critical&amp;gone=no" in response.content.decode()


def test_it_counts_the_findings_from_the_rollups_not_the_images(viewer_client, estate):
    """The findings card is summed with the other figures from the rollups: no query reads the
    findings, and the image table is read only for the images deprecated today."""
    from django.db import connection

    from inventory.choices import FindingsStatus
    from inventory.models import Image, ImageFindings

    first = Image.objects.filter(gone_at__isnull=True).order_by("pk").first()
    ImageFindings.objects.create(
        image=first, status=FindingsStatus.SCANNED, critical=1, checked_at=timezone.now()
    )
    with CaptureQueriesContext(connection) as queries:
        text = _text(viewer_client.get(URL))

    assert "1 with critical findings" in text and "1 scanned · 5 not scanned" in text
    sql = [query["sql"] for query in queries.captured_queries]
    assert not any("inventory_imagefindings" in query for query in sql)
    on_images = [query for query in sql if '"inventory_image"' in query]
    assert len(on_images) == 1
    assert '"inventory_image"."deprecation_time" <' in on_images[0]
    assert '"inventory_imagerollup"."critical"' in on_images[0]  # the same union

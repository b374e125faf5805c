"""A request for every image a filter matches, not only the page shown; the filter is recorded."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from lifecycle.models import LifecycleRequest
from lifecycle.services import requests as services
from tests.factories import create_image, signed_in


def test_it_requests_every_matching_image_and_records_the_filter(requester):
    for n in range(3):
        create_image(name=f"web-1.{n}")
    create_image(name="db-1.0")
    client = signed_in(requester)
    page = client.get("/images/", {"q": "web", "size": "25"}).content.decode()
    assert 'id="request-all"' in page
    preview = client.get("/requests/new/", {"action": "deprecate", "from_filter": "q=web"})
    assert preview.status_code == 200 and "Every image matching the filter: 3 now" in (
        preview.content.decode()
    )
    response = client.post(
        "/requests/new/",
        {
            "action": "deprecate",
            "from_filter": "q=web",
            "reason": "old web builds",
            "deprecate_at": (timezone.now() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    request = LifecycleRequest.objects.get()
    assert response.status_code == 302
    assert sorted(i.preview["name"] for i in request.items.all()) == [
        "web-1.0",
        "web-1.1",
        "web-1.2",
    ]
    assert request.provenance["filter"] == "q=web" and request.provenance["matching"] == 3
    detail = client.get(f"/requests/{request.pk}/").content.decode()
    assert "All 3 images matching the filter q=web" in detail


def test_a_filter_matching_more_than_a_request_may_name_is_refused(requester, monkeypatch):
    monkeypatch.setattr(services, "MAX_IMAGES_PER_REQUEST", 2)
    for n in range(3):
        create_image(name=f"web-1.{n}")
    response = signed_in(requester).get(
        "/requests/new/", {"action": "deprecate", "from_filter": "q=web"}
    )
    assert response.status_code == 400
    assert "3 images match the filter; a request may name at most 2" in response.content.decode()


def test_a_bad_filter_is_a_400_not_a_500(requester):
    response = signed_in(requester).get(
        "/requests/new/", {"action": "deprecate", "from_filter": "min_age=lots"}
    )
    assert response.status_code == 400 and "The filter is not valid" in response.content.decode()

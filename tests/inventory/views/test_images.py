"""The image list: filters, sorting, columns, keyset pages, bad query strings, selection."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from amidash.roles import Role
from tests.factories import create_image, create_user, signed_in

URL = "/images/"


def _ids(response) -> list[str]:
    """The image ids in the table, in order, as the user sees them."""
    return re.findall(
        r'<a class="mono" href="/images/\d+/">(ami-[0-9a-f]+)</a>', response.content.decode()
    )


def _names(estate: dict, *keys: str) -> set[str]:
    return {estate["images"][key].image_id for key in keys}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=web", {"web_new", "web_old", "old_gone"}),
        ("account=444455556666", {"db_shared", "batch_deprecated", "legacy_disabled"}),
        ("region=eu-west-1", {"db_shared", "batch_deprecated"}),
        ("state=available", {"web_new", "web_old", "db_public", "db_shared"}),
        ("state=deprecated", {"batch_deprecated"}),
        ("state=disabled", {"legacy_disabled"}),
        ("state=deregistered", {"old_gone"}),
        ("deprecated=yes", {"batch_deprecated"}),
        ("in_use=yes", {"web_new", "db_public"}),
        ("in_use=no&gone=no", {"web_old", "db_shared", "batch_deprecated", "legacy_disabled"}),
        ("exposure=public", {"db_public"}),
        ("exposure=shared", {"db_shared"}),
        ("exposure=exposed", {"db_public", "db_shared"}),
        ("min_age=150&gone=no", {"web_old", "db_public", "legacy_disabled"}),
        ("min_age=100&max_age=150", {"db_shared", "batch_deprecated"}),
        ("tag_key=team", {"web_new", "web_old"}),
        ("tag_key=team&tag_value=web&max_age=30", {"web_new"}),
        ("family=db", {"db_public", "db_shared"}),
        ("launched_before=2000-01-01&region=eu-west-1", {"db_shared", "batch_deprecated"}),
    ],
)
def test_it_filters_images(viewer_client, estate, query, expected) -> None:
    response = viewer_client.get(f"{URL}?{query}")
    assert response.status_code == 200
    assert set(_ids(response)) == _names(estate, *expected)


def test_it_finds_an_image_by_its_id(viewer_client, estate) -> None:
    image = estate["images"]["db_shared"]
    response = viewer_client.get(URL, {"q": image.image_id})
    assert _ids(response) == [image.image_id]


def test_it_sorts_by_a_column_both_ways(viewer_client, estate) -> None:
    ascending = _ids(viewer_client.get(URL, {"sort": "storage", "gone": "no"}))
    sizes = {i.image_id: i.storage_gib for i in estate["images"].values()}
    assert [sizes[i] for i in ascending] == sorted(sizes[i] for i in ascending)
    descending = _ids(viewer_client.get(URL, {"sort": "-created"}))
    assert descending[0] == estate["images"]["web_new"].image_id
    assert descending[-1] == estate["images"]["legacy_disabled"].image_id
    by_name = _ids(viewer_client.get(URL, {"sort": "name"}))
    names = {i.image_id: i.name for i in estate["images"].values()}
    assert [names[i] for i in by_name] == sorted(names.values())


def test_it_marks_the_sorted_column_for_screen_readers(viewer_client, estate) -> None:
    body = viewer_client.get(URL, {"sort": "-storage"}).content.decode()
    assert 'aria-sort="descending"' in body


def test_it_shows_only_the_chosen_columns(viewer_client, estate) -> None:
    body = viewer_client.get(URL, {"col": ["image_id", "family"]}).content.decode()
    table = body[body.index("<table") :]
    assert ">Family<" in table
    assert ">Region<" not in table


def test_it_sorts_numbers_from_the_largest_first_and_toggles(viewer_client, estate) -> None:
    body = viewer_client.get(URL).content.decode()
    assert "sort=-storage" in body and "sort=name" in body
    body = viewer_client.get(URL, {"sort": "-storage"}).content.decode()
    assert re.search(r'href="\?[^"]*sort=storage[^"]*"[^>]*class="sort">Storage GiB', body)


def test_it_walks_forward_and_back_through_pages(viewer_client, db) -> None:
    for number in range(60):
        create_image(name=f"svc-{number:02d}", age_days=number % 7, storage_gib=number % 4)
    forward: list[list[str]] = []
    url = f"{URL}?size=25&sort=storage"
    while url:
        body = viewer_client.get(url).content.decode()
        forward.append(re.findall(r'href="/images/\d+/">(ami-[0-9a-f]+)<', body))
        match = re.search(r'rel="next" href="(\?[^"]+)"', body)
        url = f"{URL}{match.group(1).replace('&amp;', '&')}" if match else None
    flat = [image for page in forward for image in page]
    assert [len(page) for page in forward] == [25, 25, 10]
    assert len(set(flat)) == 60
    body = viewer_client.get(f"{URL}?size=25&sort=storage").content.decode()
    second_url = re.search(r'rel="next" href="(\?[^"]+)"', body).group(1).replace("&amp;", "&")
    third = viewer_client.get(URL + second_url).content.decode()
    third_url = re.search(r'rel="next" href="(\?[^"]+)"', third).group(1).replace("&amp;", "&")
    last = viewer_client.get(URL + third_url).content.decode()
    back = re.search(r'rel="prev" href="(\?[^"]+)"', last).group(1).replace("&amp;", "&")
    again = viewer_client.get(URL + back).content.decode()
    assert re.findall(r'href="/images/\d+/">(ami-[0-9a-f]+)<', again) == forward[1]


@pytest.mark.parametrize(
    ("query", "notice"),
    [
        ("min_age=abc", "Age from (days)"),
        ("max_age=99999999999", "Age to (days)"),
        ("state=exploded", "State"),
        ("region=mars", "Region"),
        ("sort=password", "Sort"),
        ("cursor=not-a-cursor", "page link is not valid"),
        ("size=100000", "Page size"),
        ("col=secret", "unknown column"),
        ("min_age=50&max_age=10", "upper age"),
        ("launched_before=yesterday", "Last launched before"),
        ("tag_value=x", "tag key"),
    ],
)
def test_it_ignores_a_bad_filter_with_a_visible_notice(viewer_client, estate, query, notice):
    response = viewer_client.get(f"{URL}?{query}")
    assert response.status_code == 400
    body = response.content.decode()
    assert 'role="alert"' in body
    assert notice in body
    assert len(_ids(response)) >= 1


def test_it_refuses_a_forged_cursor_of_the_wrong_type(viewer_client, estate) -> None:
    import base64
    import json

    forged = base64.urlsafe_b64encode(json.dumps(["a", {"x": 1}, "1"]).encode()).decode()
    response = viewer_client.get(URL, {"cursor": forged, "sort": "created"})
    assert response.status_code == 400
    assert "page link is not valid" in response.content.decode()


def test_it_lets_requesters_select_images(estate) -> None:
    viewer = signed_in(create_user("vic", Role.VIEWER))
    requester = signed_in(create_user("rex", Role.REQUESTER))
    requester_body = requester.get(URL).content.decode()
    viewer_body = viewer.get(URL).content.decode()
    checkbox = 'type="checkbox" name="image"'
    assert checkbox in requester_body and "Request…" in requester_body
    assert f'action="{reverse("lifecycle:request_create")}"' in requester_body
    assert re.search(r'name="image" value="\d+" aria-label="[^"]+" disabled', viewer_body)
    assert "needs the Requester role" in viewer_body


def test_it_keeps_queries_constant_whatever_the_page_size(
    viewer_client, db, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for number in range(12):
        image = create_image(name=f"svc-{number}", account=None)
        image.tags = {"n": str(number)}
        image.save()
    with CaptureQueriesContext(connection) as small:
        viewer_client.get(URL, {"size": 25})
    for number in range(120):
        create_image(name=f"more-{number}")
    with CaptureQueriesContext(connection) as large:
        viewer_client.get(URL, {"size": 200})
    assert len(large.captured_queries) == len(small.captured_queries)
    with django_assert_max_num_queries(len(small.captured_queries)):
        viewer_client.get(URL, {"size": 100, "sort": "-last_launched", "in_use": "no"})

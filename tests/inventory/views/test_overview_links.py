"""The Overview promises "Numbers link to the matching images": every number on the Overview
and the accounts page that links to the image list equals the total that list shows."""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from django.test import Client

from amidash.demo import register_estate_accounts
from amidash.sandbox import sandbox
from amidash.sandbox.estate import estate_accounts, generate_estate
from inventory.choices import ImageBucket
from inventory.models import Image
from tests.factories import sync_with_follow_ups
from tests.inventory.estates import KINDS, build_every_state_estate

PAGES = ("/", "/?older_than=30", "/?older_than=365", "/accounts/")
IMAGE_LIST = "/images/?"
LEADING_NUMBER = re.compile(r"^(\d[\d,]*)(?:\s|$)")
CHART_GROUP = re.compile(r"<g>(.*?)</g>", re.DOTALL)
CHART_LINK = re.compile(r'<a href="([^"]+)">')
CHART_VALUE = re.compile(r"<title>[^<]*: (\d[\d,]*)</title>")
LIST_TOTAL = re.compile(r'class="result-count"><strong>(\d[\d,]*)</strong>')
LIST_ROW = re.compile(r'<a class="mono" href="/images/\d+/">ami-')
NEXT_PAGE = re.compile(r'rel="next" href="(\?[^"]+)"')
# A slice of the demo estate that syncs quickly: three accounts have images in these Regions.
DEMO_REGIONS = ["eu-west-1", "eu-central-1"]


class _Links(HTMLParser):
    """Every link of a page outside its charts with its text, as a reader sees it (a chart's
    links are its labels; its numbers are read apart)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._open: list[list[str]] = []
        self._in_chart = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_chart = self._in_chart or tag == "svg"
        for link in self._open:  # "<div>68</div><div>current images</div>" reads "68 current"
            link[1] += " "
        if tag == "a" and not self._in_chart:
            self._open.append([dict(attrs).get("href") or "", ""])

    def handle_data(self, data: str) -> None:
        for link in self._open:
            link[1] += data

    def handle_endtag(self, tag: str) -> None:
        self._in_chart = self._in_chart and tag != "svg"
        if tag == "a" and self._open and not self._in_chart:
            href, text = self._open.pop()
            self.links.append((href, " ".join(text.split())))


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def linked_numbers(body: str) -> list[tuple[str, int]]:
    """(link, number) for each number that links to the image list: a link whose text starts
    with a number, and a chart bar whose label links."""
    parser = _Links()
    parser.feed(body)
    found = [
        (href, _number(match.group(1)))
        for href, text in parser.links
        if href.startswith(IMAGE_LIST) and (match := LEADING_NUMBER.match(text))
    ]
    for group in CHART_GROUP.findall(body):
        link, value = CHART_LINK.search(group), CHART_VALUE.search(group)
        if link and value and html.unescape(link.group(1)).startswith(IMAGE_LIST):
            found.append((html.unescape(link.group(1)), _number(value.group(1))))
    return found


def listed_total(client: Client, href: str) -> int:
    """The total the list shows, once checked against the rows its pages hold (the total comes
    from the rollups, the rows from the image table)."""
    response = client.get(href + "&size=200")
    assert response.status_code == 200, href
    body = response.content.decode()
    assert "message warning" not in body, f"{href} has a filter the list cannot read"
    match = LIST_TOTAL.search(body)
    assert match, f"{href} shows no total"
    rows = len(LIST_ROW.findall(body))
    while following := NEXT_PAGE.search(body):
        body = client.get("/images/" + html.unescape(following.group(1))).content.decode()
        rows += len(LIST_ROW.findall(body))
    assert _number(match.group(1)) == rows, f"{href} shows a total that is not its rows"
    return rows


def walk(client: Client) -> dict[str, int]:
    """Follow every linked number of the pages; returns the numbers by link and asserts that
    each equals the total its list shows."""
    numbers: dict[str, int] = {}
    mismatches = []
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 200
        for href, number in linked_numbers(response.content.decode()):
            total = listed_total(client, href)
            if total != number:
                mismatches.append(f"{page}: {number:,} links to {href}, which lists {total:,}")
            numbers[href] = number
    assert not mismatches, "\n".join(mismatches)
    return numbers


def test_every_linked_number_counts_the_images_of_its_list(viewer_client, db) -> None:
    build_every_state_estate()
    numbers = walk(viewer_client)
    # Four images of each kind (two accounts, two Regions), counted in the bucket KINDS names:
    # a deprecated and disabled image as disabled, a scheduled deprecation as available.
    in_bucket = Counter(bucket for _fields, bucket in KINDS.values())
    assert in_bucket[ImageBucket.DEPRECATED] == 4 and in_bucket[ImageBucket.DISABLED] == 4
    for bucket in (ImageBucket.AVAILABLE, ImageBucket.DEPRECATED, ImageBucket.DISABLED):
        assert numbers[f"/images/?state={bucket.value}"] == 4 * in_bucket[bucket]
        assert numbers[f"/images/?region=eu-west-1&state={bucket.value}"] == 2 * in_bucket[bucket]
    assert numbers["/images/?gone=yes"] == 4 * in_bucket[ImageBucket.GONE]
    current = len(KINDS) - in_bucket[ImageBucket.GONE]
    assert numbers["/images/?account=111122223333&gone=no"] == 2 * current
    # No image was scanned: none has critical findings, every current one is "not scanned".
    assert numbers["/images/?findings=critical&gone=no"] == 0
    assert numbers["/images/?findings=not_scanned&gone=no"] == 4 * current
    assert len(numbers) == 29  # every linked number of the four pages, by its link


def test_the_overview_says_how_a_deprecated_and_disabled_image_counts(viewer_client, db) -> None:
    build_every_state_estate()
    body = viewer_client.get("/").content.decode()
    assert "An image both deprecated and disabled counts as disabled" in body
    listed = viewer_client.get("/images/", {"q": "deprecated_and_disabled"}).content.decode()
    assert listed.count('<span class="badge bad" title="Also deprecated since') == 4
    assert ">deprecated</span>" not in listed


@pytest.fixture
def demo_estate(settings) -> Iterator[None]:
    """A slice of the sandbox's demo estate, synced as `make demo` does."""
    settings.SYNC_REGIONS = DEMO_REGIONS
    with sandbox():
        generate_estate("demo", 7)
        register_estate_accounts(estate_accounts(7, "demo"))
        assert sync_with_follow_ups().status == "succeeded"
        yield


def test_every_linked_number_matches_its_list_on_the_demo_estate(viewer_client, demo_estate):
    assert Image.objects.disabled().deprecated().exists()  # the images the two lists disputed
    numbers = walk(viewer_client)
    assert numbers["/images/?state=deprecated"] > 0 and numbers["/images/?state=disabled"] > 0
    assert numbers["/images/?findings=critical&gone=no"] > 0  # its follow-up read the findings


def test_every_linked_number_counts_the_list_of_a_scoped_viewer(db) -> None:
    """A viewer scoped to one account: every figure counts that account only, and still equals
    the list it links to (both read ``Image.objects.visible_to``)."""
    from amidash.roles import Role
    from inventory.models import Account
    from tests.factories import create_account_scope, create_user, signed_in

    build_every_state_estate()
    critical = _give_findings()
    viewer = create_user("scoped-viewer", Role.VIEWER, all_accounts=False)
    create_account_scope(viewer, Account.objects.get(account_id="111122223333"))
    numbers = walk(signed_in(viewer))
    in_bucket = Counter(bucket for _fields, bucket in KINDS.values())
    for bucket in (ImageBucket.AVAILABLE, ImageBucket.DEPRECATED, ImageBucket.DISABLED):
        assert numbers[f"/images/?state={bucket.value}"] == 2 * in_bucket[bucket]
    current = len(KINDS) - in_bucket[ImageBucket.GONE]
    assert numbers["/images/?account=111122223333&gone=no"] == 2 * current
    assert not any("444455556666" in link for link in numbers)
    assert numbers["/images/?findings=critical&gone=no"] == critical["111122223333"] > 0
    assert 0 < numbers["/images/?findings=not_scanned&gone=no"] < 2 * current


def _give_findings() -> Counter:
    """Inspector findings on the images, by turns: critical, high, clean, not permitted, never
    read; returns the current images with critical findings per account."""
    from django.utils import timezone

    from inventory.choices import FindingsStatus
    from inventory.models import ImageFindings

    now = timezone.now()
    critical: Counter = Counter()
    for turn, row in enumerate(Image.objects.select_related("account").order_by("pk")):
        kind = turn % 5
        if kind == 4:
            continue
        ImageFindings.objects.create(
            image=row,
            status=FindingsStatus.NOT_SCANNED if kind == 3 else FindingsStatus.SCANNED,
            critical=int(kind == 0),
            high=int(kind in (0, 1)),
            checked_at=now,
        )
        if kind == 0 and row.gone_at is None:
            critical[row.account.account_id] += 1
    return critical
